package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// leaveStatus is the answer of /api/v1/cluster/leave.
type leaveStatus struct {
	Node          string  `json:"node"`
	Phase         string  `json:"phase"`
	Seconds       float64 `json:"seconds"`
	CopiesAtStart int     `json:"copiesAtStart"`
	CopiesLeft    int     `json:"copiesLeft"`
	Migrating     int     `json:"migrating"`
	StreamedBytes int64   `json:"streamedBytes"`
	Error         string  `json:"error"`
}

func newLeaveCommand() *cobra.Command {
	var addr string
	var timeout, every time.Duration
	cmd := &cobra.Command{
		Use:   "leave",
		Short: "Make a node hand all its partitions over and leave the cluster",
		Long: `leave asks the node at --addr to leave the cluster gracefully: it hands every
partition copy it holds to the other nodes (snapshot handoffs; primaries flip
once the new copies are in sync), hands Raft leadership over if it has it,
leaves gossip and the Raft group, and exits 0. It prints the progress until
the node is gone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return leaveNode(ctx, cmd.OutOrStdout(), addr, every)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:3300", "HTTP API address (host:port) of the node that leaves")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait for the node to be gone")
	cmd.Flags().DurationVar(&every, "progress-every", 2*time.Second, "how often to print the progress")
	return cmd
}

func leaveNode(ctx context.Context, w io.Writer, addr string, every time.Duration) error {
	base := "http://" + strings.TrimPrefix(addr, "http://")
	// The other members, to ask once the node has stopped answering.
	var members struct {
		Self    string         `json:"self"`
		Members []statusMember `json:"members"`
	}
	if err := getAPI(ctx, addr, "/api/v1/cluster/members", &members); err != nil {
		return fmt.Errorf("ask %s to leave: %w", addr, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/cluster/leave", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ask %s to leave: %w", addr, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("ask %s to leave: %s: %s", addr, resp.Status, bytes.TrimSpace(body))
	}
	var st leaveStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("ask %s to leave: %w", addr, err)
	}
	fmt.Fprintf(w, "%s is leaving: %d partition copies to hand over\n", st.Node, st.CopiesAtStart)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s has not left: %w", st.Node, ctx.Err())
		case <-t.C:
		}
		var cur leaveStatus
		if err := getAPI(ctx, addr, "/api/v1/cluster/leave", &cur); err != nil {
			// It stops answering once drained: the others must see it
			// as left (not dead).
			if state := memberState(ctx, members.Members, members.Self); state == "left" {
				fmt.Fprintf(w, "%s handed everything over, left the cluster and stopped\n", st.Node)
				return nil
			} else if state != "" {
				return fmt.Errorf("%s stopped answering while %s, and the others see it %s: %w", st.Node, st.Phase, state, err)
			}
			return fmt.Errorf("%s stopped answering while %s: %w", st.Node, st.Phase, err)
		}
		st = cur
		if st.Phase == "failed" {
			return fmt.Errorf("%s failed to leave: %s", st.Node, st.Error)
		}
		done := st.CopiesAtStart - st.CopiesLeft
		fmt.Fprintf(w, "%6.1fs %-10s %d/%d copies handed over, %d moving, %.1f MiB streamed\n",
			st.Seconds, st.Phase, done, st.CopiesAtStart, st.Migrating, float64(st.StreamedBytes)/(1<<20))
	}
}

// memberState is the gossip state of node id as the first other member
// that answers (and has stopped calling it alive) reports it; "" when none
// answers.
func memberState(ctx context.Context, members []statusMember, id string) string {
	deadline := time.Now().Add(10 * time.Second) // gossip spreads the leave within a second or two
	for {
		state := ""
		for _, m := range members {
			if m.ID == id || m.HTTPAddr == "" {
				continue
			}
			var view struct {
				Members []statusMember `json:"members"`
			}
			if getAPI(ctx, m.HTTPAddr, "/api/v1/cluster/members", &view) != nil {
				continue
			}
			for _, v := range view.Members {
				if v.ID == id {
					state = v.State
				}
			}
			break
		}
		if state != "alive" || time.Now().After(deadline) {
			return state
		}
		select {
		case <-ctx.Done():
			return state
		case <-time.After(200 * time.Millisecond):
		}
	}
}
