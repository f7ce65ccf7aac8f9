package prometheus

import "net/http"

// The routes of things Starling does not have: it scrapes no targets and
// evaluates no rules (OpenTelemetry pushes to it), and sends no alerts.
// Each answers what a Prometheus with none of them answers, which Grafana
// takes as "nothing here": empty lists, not errors.

type emptyTargets struct {
	ActiveTargets       []struct{}     `json:"activeTargets"`
	DroppedTargets      []struct{}     `json:"droppedTargets"`
	DroppedTargetCounts map[string]int `json:"droppedTargetCounts"`
}

type emptyRules struct {
	RuleGroups []struct{} `json:"groups"`
}

type emptyAlerts struct {
	Alerts []struct{} `json:"alerts"`
}

type emptyAlertmanagers struct {
	ActiveAlertmanagers  []struct{} `json:"activeAlertmanagers"`
	DroppedAlertmanagers []struct{} `json:"droppedAlertmanagers"`
}

type emptyScrapePools struct {
	ScrapePools []string `json:"scrapePools"`
}

func targets(*http.Request) result {
	return result{data: &emptyTargets{ActiveTargets: []struct{}{}, DroppedTargets: []struct{}{}, DroppedTargetCounts: map[string]int{}}}
}

func targetsMetadata(*http.Request) result { return result{data: []struct{}{}} }

func scrapePools(*http.Request) result {
	return result{data: &emptyScrapePools{ScrapePools: []string{}}}
}

func rules(*http.Request) result { return result{data: &emptyRules{RuleGroups: []struct{}{}}} }

func alerts(*http.Request) result { return result{data: &emptyAlerts{Alerts: []struct{}{}}} }

func alertmanagers(*http.Request) result {
	return result{data: &emptyAlertmanagers{ActiveAlertmanagers: []struct{}{}, DroppedAlertmanagers: []struct{}{}}}
}
