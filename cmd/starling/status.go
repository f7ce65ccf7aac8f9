package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// statusMember, statusRaft and statusPartitions are the parts of the
// cluster API answers that `starling status` prints.
type statusMember struct {
	ID         string `json:"id"`
	GossipAddr string `json:"gossipAddr"`
	HTTPAddr   string `json:"httpAddr"`
	Zone       string `json:"zone"`
	Region     string `json:"region"`
	State      string `json:"state"`
	Since      string `json:"since"`
	RaftRole   string `json:"raftRole"`
}

type statusRaft struct {
	Leader    string `json:"leader"`
	Term      uint64 `json:"term"`
	LastIndex uint64 `json:"lastIndex"`
	Voters    []struct {
		ID string `json:"id"`
	} `json:"voters"`
	NonVoters []struct {
		ID string `json:"id"`
	} `json:"nonVoters"`
}

type statusPartitions struct {
	Settings *struct {
		ClusterID         string `json:"clusterId"`
		Partitions        int    `json:"partitions"`
		ReplicationFactor int    `json:"replicationFactor"`
		MinInSync         int    `json:"minInSync"`
		Window            string `json:"window"`
	} `json:"settings"`
	PerNode map[string]struct {
		Primary int `json:"primary"`
		Replica int `json:"replica"`
	} `json:"perNode"`
	UnderReplicated int     `json:"underReplicated"`
	PrimarySkew     float64 `json:"primarySkew"`
}

// statusMigrations is the part of /api/v1/cluster/migrations status prints.
type statusMigrations struct {
	Migrations []struct {
		Signal    string `json:"signal"`
		Partition uint32 `json:"partition"`
		Source    string `json:"source"`
		Target    string `json:"target"`
		Phase     string `json:"phase"`
		Transfer  *struct {
			Bytes         int64   `json:"bytes"`
			EstimateBytes int64   `json:"estimateBytes"`
			BytesPerSec   float64 `json:"bytesPerSecond"`
			ETASeconds    float64 `json:"etaSeconds"`
		} `json:"transfer"`
	} `json:"migrations"`
	Recent []struct {
		Error string `json:"error"`
	} `json:"recent"`
	Unreachable []string `json:"unreachable"`
}

// maxMigrationRows bounds the migrations status lists one by one.
const maxMigrationRows = 12

func newStatusCommand() *cobra.Command {
	var addr string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the cluster's members, Raft roles and partitions per node",
		Long: `status asks one node's HTTP API (--addr) for the cluster as that node sees
it: every member with its gossip state and Raft role, the Raft leader and
term, and how many partitions each node holds as primary and as replica.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return printStatus(ctx, cmd.OutOrStdout(), addr)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:3300", "HTTP API address (host:port) of any node")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "time limit of the requests")
	return cmd
}

func getAPI(ctx context.Context, addr, path string, v any) error {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(addr, "/")+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

func printStatus(ctx context.Context, w io.Writer, addr string) error {
	var members struct {
		Self    string         `json:"self"`
		Members []statusMember `json:"members"`
	}
	var raft statusRaft
	var parts statusPartitions
	var migs statusMigrations
	for _, q := range []struct {
		path string
		v    any
	}{{"/api/v1/cluster/members", &members}, {"/api/v1/cluster/raft", &raft}, {"/api/v1/cluster/partitions?signal=traces", &parts},
		{"/api/v1/cluster/migrations", &migs}} {
		if err := getAPI(ctx, addr, q.path, q.v); err != nil {
			return err
		}
	}
	if s := parts.Settings; s != nil {
		fmt.Fprintf(w, "cluster %s: %d partitions per signal, replication factor %d (min in sync %d), %s windows\n",
			s.ClusterID, s.Partitions, s.ReplicationFactor, s.MinInSync, s.Window)
	} else {
		fmt.Fprintln(w, "cluster not formed yet (no settings in the Raft table)")
	}
	leader := raft.Leader
	if leader == "" {
		leader = "(none)"
	}
	fmt.Fprintf(w, "raft leader %s, term %d, last index %d, %d voters, %d non-voters; asked node %s\n\n",
		leader, raft.Term, raft.LastIndex, len(raft.Voters), len(raft.NonVoters), members.Self)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tRAFT\tPRIMARY\tREPLICA\tZONE\tREGION\tHTTP\tGOSSIP\tSINCE")
	ids := make([]string, 0, len(members.Members))
	seen := map[string]bool{}
	for _, m := range members.Members {
		ids = append(ids, m.ID)
		seen[m.ID] = true
	}
	for id := range parts.PerNode {
		if !seen[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	byID := map[string]statusMember{}
	for _, m := range members.Members {
		byID[m.ID] = m
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, id := range ids {
		m, ok := byID[id]
		if !ok {
			m = statusMember{ID: id, State: "unknown"}
		}
		c := parts.PerNode[id]
		since := "-"
		if t, err := time.Parse(time.RFC3339Nano, m.Since); err == nil && !t.IsZero() {
			since = time.Since(t).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", id, m.State, dash(m.RaftRole), c.Primary, c.Replica,
			dash(m.Zone), dash(m.Region), dash(m.HTTPAddr), dash(m.GossipAddr), since)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\npartitions per node count all signals; primary skew %.3f (max/mean), %d under-replicated\n", parts.PrimarySkew, parts.UnderReplicated)
	return printMigrations(w, migs)
}

// printMigrations prints the copies being built and their streams.
func printMigrations(w io.Writer, m statusMigrations) error {
	failed := 0
	for _, r := range m.Recent {
		if r.Error != "" {
			failed++
		}
	}
	fmt.Fprintf(w, "\nmigrations: %d running; lately %d handoffs completed, %d failed", len(m.Migrations), len(m.Recent)-failed, failed)
	if len(m.Unreachable) > 0 {
		fmt.Fprintf(w, " (no answer from %s)", strings.Join(m.Unreachable, ", "))
	}
	fmt.Fprintln(w)
	if len(m.Migrations) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SIGNAL\tPARTITION\tSOURCE\tTARGET\tPHASE\tMIB\tOF MIB\tMIB/S\tETA")
	for i, g := range m.Migrations {
		if i == maxMigrationRows {
			fmt.Fprintf(tw, "… %d more\n", len(m.Migrations)-i)
			break
		}
		done, est, rate, eta := "-", "-", "-", "-"
		if t := g.Transfer; t != nil {
			done, est, rate = fmt.Sprintf("%.1f", float64(t.Bytes)/(1<<20)), fmt.Sprintf("%.1f", float64(t.EstimateBytes)/(1<<20)), fmt.Sprintf("%.1f", t.BytesPerSec/(1<<20))
			eta = (time.Duration(t.ETASeconds) * time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Signal, g.Partition, g.Source, g.Target, g.Phase, done, est, rate, eta)
	}
	return tw.Flush()
}
