package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// syncBuffer collects log output written from memberlist's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startMember starts gossip for node id on 127.0.0.<host> (free port).
func startMember(t *testing.T, host int, id string, join []string, mutate func(*MembershipConfig, *starlingpb.NodeMeta)) (*Membership, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg := LocalMembershipConfig(fmt.Sprintf("127.0.0.%d", host))
	cfg.Join = join
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	meta := &starlingpb.NodeMeta{Id: id, ActorAddr: id + ":7948", RaftAddr: id + ":7947", Zone: "z-" + id}
	if mutate != nil {
		mutate(&cfg, meta)
	}
	m, err := StartMembership(cfg, meta)
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	return m, logs
}

func waitUntil(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func aliveIDs(m *Membership) []string {
	var ids []string
	for _, meta := range m.Alive() {
		ids = append(ids, meta.Id)
	}
	return ids
}

func TestMembershipJoinUpdateLeaveDeath(t *testing.T) {
	a, _ := startMember(t, 50, "a", nil, nil)
	b, _ := startMember(t, 51, "b", []string{a.GossipAddr()}, nil)
	c, _ := startMember(t, 52, "c", []string{"dns+localhost:1", a.GossipAddr()}, nil) // an unanswered seed does not block
	for _, m := range []*Membership{a, b, c} {
		waitUntil(t, 5*time.Second, func() string {
			if got := aliveIDs(m); !slices.Equal(got, []string{"a", "b", "c"}) {
				return fmt.Sprintf("%s sees %v", m.Local().Id, got)
			}
			return ""
		})
	}
	if addr, ok := a.ActorAddress("b"); !ok || addr != "b:7948" {
		t.Errorf("ActorAddress(b) = %q, %v", addr, ok)
	}
	if _, ok := a.ActorAddress("nobody"); ok {
		t.Error("ActorAddress of an unknown node resolved")
	}

	// Metadata updates spread and notify.
	changed := a.Changed()
	if err := b.UpdateLocal(time.Second, func(m *starlingpb.NodeMeta) { m.RaftMember = true }); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, func() string {
		for _, mi := range a.Members() {
			if mi.Meta.Id == "b" && mi.Meta.RaftMember {
				return ""
			}
		}
		return "a has not seen b's update"
	})
	select {
	case <-changed:
	default:
		t.Error("Changed was not closed by the update")
	}

	// A graceful leave is "left"; a stop without leave is "dead"; both stay
	// listed (with their time) until forgotten, and no longer resolve.
	if err := b.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	_ = b.Stop()
	_ = c.Stop()
	waitUntil(t, 10*time.Second, func() string {
		states := map[string]starlingpb.NodeState{}
		for _, mi := range a.Members() {
			states[mi.Meta.Id] = mi.State
		}
		if states["b"] != starlingpb.NodeState_NODE_STATE_LEFT || states["c"] != starlingpb.NodeState_NODE_STATE_DEAD {
			return fmt.Sprintf("states %v, want b left and c dead", states)
		}
		return ""
	})
	if _, ok := a.ActorAddress("c"); ok {
		t.Error("a dead node still resolves")
	}
	a.Forget("c")
	a.Forget("a") // alive: not forgotten
	ids := []string{}
	for _, mi := range a.Members() {
		ids = append(ids, mi.Meta.Id)
	}
	if !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("after Forget(c): %v", ids)
	}
}

func TestMembershipRefusesIncompatibleProtocol(t *testing.T) {
	a, logs := startMember(t, 53, "a", nil, nil)
	// A node from the future: a plain memberlist gossiping protocol 99.
	meta, _ := proto.Marshal(&starlingpb.NodeMeta{Protocol: ProtocolVersion + 98, Id: "future"})
	mc := memberlist.DefaultLocalConfig()
	mc.Name, mc.BindAddr, mc.BindPort = "future", "127.0.0.54", 0
	mc.Delegate, mc.LogOutput = metaDelegate(meta), io.Discard
	future, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer future.Shutdown()
	_, _ = future.Join([]string{a.GossipAddr()}) // a answers, then refuses to merge
	waitUntil(t, 5*time.Second, func() string {
		if !strings.Contains(logs.String(), "refusing node") || !strings.Contains(logs.String(), "incompatible cluster protocol version") {
			return "no refusal logged: " + logs.String()
		}
		return ""
	})
	// Its gossip keeps reaching a, which keeps refusing it.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if got := aliveIDs(a); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("a lists %v: the incompatible node half-joined", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metaDelegate is a memberlist delegate gossiping fixed metadata.
type metaDelegate []byte

func (d metaDelegate) NodeMeta(int) []byte           { return d }
func (metaDelegate) NotifyMsg([]byte)                {}
func (metaDelegate) GetBroadcasts(int, int) [][]byte { return nil }
func (metaDelegate) LocalState(bool) []byte          { return nil }
func (metaDelegate) MergeRemoteState([]byte, bool)   {}

func TestMembershipGossipKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	withKey := func(k []byte) func(*MembershipConfig, *starlingpb.NodeMeta) {
		return func(c *MembershipConfig, _ *starlingpb.NodeMeta) { c.Key = k }
	}
	a, _ := startMember(t, 55, "a", nil, withKey(key))
	b, _ := startMember(t, 56, "b", []string{a.GossipAddr()}, withKey(key))
	waitUntil(t, 5*time.Second, func() string {
		if got := aliveIDs(a); !slices.Equal(got, []string{"a", "b"}) {
			return fmt.Sprintf("a sees %v", got)
		}
		return ""
	})
	_ = b
	// A node without the key cannot join.
	plain, _ := startMember(t, 57, "plain", nil, nil)
	plain.cfg.Join = []string{a.GossipAddr()}
	if _, err := plain.join(context.Background()); err == nil {
		t.Error("a node without the gossip key joined")
	}
	if got := aliveIDs(a); slices.Contains(got, "plain") {
		t.Errorf("a lists %v", got)
	}
}

// srvResolver answers SRV lookups from a table and A lookups from the
// system resolver.
type srvResolver struct {
	srv map[string][]*net.SRV
}

func (r srvResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	return net.DefaultResolver.LookupHost(ctx, host)
}

func (r srvResolver) LookupSRV(_ context.Context, _, _, name string) (string, []*net.SRV, error) {
	s, ok := r.srv[name]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return name, s, nil
}

func TestResolveJoin(t *testing.T) {
	r := srvResolver{srv: map[string][]*net.SRV{
		"_gossip._tcp.starling.default.svc": {{Target: "10.0.0.2.", Port: 7946}, {Target: "10.0.0.1.", Port: 7946}},
	}}
	for _, c := range []struct {
		name    string
		join    []string
		want    []string
		wantErr bool
	}{
		{"plain addresses pass through", []string{"10.0.0.9:7946", "seed.example:7946"}, []string{"10.0.0.9:7946", "seed.example:7946"}, false},
		{"A records", []string{"dns+localhost:7946"}, []string{"127.0.0.1:7946"}, false},
		{"SRV records", []string{"dnssrv+_gossip._tcp.starling.default.svc"}, []string{"10.0.0.1:7946", "10.0.0.2:7946"}, false},
		{"duplicates collapse", []string{"10.0.0.1:7946", "dnssrv+_gossip._tcp.starling.default.svc"}, []string{"10.0.0.1:7946", "10.0.0.2:7946"}, false},
		{"bad dns+ address", []string{"dns+nohostport"}, nil, true},
		{"unknown SRV name keeps the rest", []string{"dnssrv+missing", "10.0.0.9:7946"}, []string{"10.0.0.9:7946"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ResolveJoin(context.Background(), r, c.join)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			got = slices.DeleteFunc(got, func(s string) bool { return strings.HasPrefix(s, "[::1]") })
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestDecodeMeta(t *testing.T) {
	good := &starlingpb.NodeMeta{Protocol: ProtocolVersion, Id: "n1", ActorAddr: "h:7948"}
	for _, c := range []struct {
		name string
		meta *starlingpb.NodeMeta
		raw  []byte
		want error
	}{
		{"good", good, nil, nil},
		{"no id", &starlingpb.NodeMeta{Protocol: ProtocolVersion}, nil, ErrBadMeta},
		{"protocol too new", &starlingpb.NodeMeta{Protocol: ProtocolVersion + 1, Id: "n"}, nil, ErrIncompatible},
		{"protocol zero", &starlingpb.NodeMeta{Id: "n"}, nil, ErrIncompatible},
		{"garbage", nil, []byte{0xff, 0xff, 0xff}, ErrBadMeta},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := c.raw
			if c.meta != nil {
				raw, _ = proto.Marshal(c.meta)
			}
			got, err := DecodeMeta(raw)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if err == nil && !proto.Equal(got, c.meta) {
				t.Errorf("decoded %v, want %v", got, c.meta)
			}
		})
	}
}

// FuzzDecodeMeta: gossip metadata comes from the network; decoding never
// panics, and what decodes has an id and a compatible protocol.
func FuzzDecodeMeta(f *testing.F) {
	b, _ := proto.Marshal(&starlingpb.NodeMeta{Protocol: ProtocolVersion, Id: "n1", ActorAddr: "127.0.0.1:7948", RaftAddr: "127.0.0.1:7947", Zone: "z"})
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		if m.Id == "" || m.Protocol < MinProtocolVersion || m.Protocol > ProtocolVersion {
			t.Fatalf("accepted %v", m)
		}
	})
}

func TestMembershipRemembersPeers(t *testing.T) {
	dir := t.TempDir()
	a, _ := startMember(t, 60, "a", nil, nil)
	b, _ := startMember(t, 61, "b", []string{a.GossipAddr()}, func(c *MembershipConfig, _ *starlingpb.NodeMeta) {
		c.PeersFile = dir + "/peers.json"
	})
	waitUntil(t, 5*time.Second, func() string {
		peers, err := loadPeers(dir + "/peers.json")
		if err != nil || !slices.Equal(peers, []string{a.GossipAddr()}) {
			return fmt.Sprintf("remembered %v, %v; want [%s]", peers, err, a.GossipAddr())
		}
		return ""
	})
	// Restarted with nothing to join, b finds a through what it remembers.
	_ = b.Stop()
	b2, _ := startMember(t, 61, "b", nil, func(c *MembershipConfig, _ *starlingpb.NodeMeta) {
		c.PeersFile = dir + "/peers.json"
	})
	waitUntil(t, 5*time.Second, func() string {
		if got := aliveIDs(b2); !slices.Equal(got, []string{"a", "b"}) {
			return fmt.Sprintf("restarted b sees %v", got)
		}
		return ""
	})
}
