package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/client"
)

func names(ns []client.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}

func TestNodes(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	ctx := context.Background()
	root, err := c.CreateNode(ctx, &client.Node{Kind: "checkout", Name: "checkout", Path: []string{"checkout"},
		Data: map[string]any{"kernel_revision": map[string]any{"tree": "mainline", "branch": "master",
			"commit": "2a987e65025e2b79c6d453b78cb5985ac6e5eb26", "url": "https://git.kernel.org/torvalds/linux.git"}}})
	if err != nil {
		t.Fatal(err)
	}
	if root.ID.IsZero() || root.State != client.StateRunning || root.Timeout.IsZero() || *root.Owner != "admin" {
		t.Fatalf("created: %+v", root)
	}
	for i := range 7 {
		if _, err := c.CreateNode(ctx, &client.Node{Kind: "kbuild", Name: fmt.Sprintf("kbuild-%d", i), Parent: &root.ID,
			Path: []string{"checkout", fmt.Sprintf("kbuild-%d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.GetNode(ctx, root.ID.String())
	if err != nil || got == nil || got.ID != root.ID {
		t.Fatalf("GetNode: %+v, %v", got, err)
	}
	if none, err := c.GetNode(ctx, "0123456789abcdef01234567"); none != nil || err != nil {
		t.Fatalf("GetNode of an unknown id: %+v, %v; want nil, nil", none, err)
	}
	if _, err := c.GetNode(ctx, "nope"); client.StatusOf(err) != http.StatusBadRequest {
		t.Fatalf("GetNode of a malformed id: %v", err)
	}

	q := client.Where().Eq("kind", "kbuild").Eq("parent", root.ID)
	p, err := c.FindNodes(ctx, client.Where().Eq("kind", "kbuild").Limit(3).Offset(1))
	if err != nil || p.Total != 7 || len(p.Items) != 3 || p.Offset != 1 {
		t.Fatalf("FindNodes: %+v, %v", p, err)
	}
	all, err := c.AllNodes(ctx, q, 2)
	if err != nil || len(all) != 7 {
		t.Fatalf("AllNodes: %v, %v", names(all), err)
	}
	fast, err := c.FindNodesFast(ctx, client.Where().Re("name", "kbuild-[56]"))
	if err != nil || !slices.Equal(names(fast), []string{"kbuild-5", "kbuild-6"}) {
		t.Fatalf("FindNodesFast: %v, %v", names(fast), err)
	}
	if n, err := c.CountNodes(ctx, client.Where().In("name", "kbuild-1", "kbuild-2", "nope")); err != nil || n != 2 {
		t.Fatalf("CountNodes __in: %d, %v", n, err)
	}
	if n, err := c.CountNodes(ctx, client.Where().Null("result").Eq("data.kernel_revision.tree", "mainline")); err != nil || n != 1 {
		t.Fatalf("CountNodes null: %d, %v", n, err)
	}
	if n, err := c.CountNodes(ctx, client.Where().Lt("created", time.Now().Add(time.Hour))); err != nil || n != 8 {
		t.Fatalf("CountNodes created__lt: %d, %v", n, err)
	}

	patched, err := c.PatchNode(ctx, all[0].ID.String(), map[string]any{"state": "available"})
	if err != nil || patched.State != client.StateAvailable {
		t.Fatalf("PatchNode: %+v, %v", patched, err)
	}
	all[1].State = client.StateDone
	upd, err := c.UpdateNode(ctx, &all[1], true)
	if err != nil || upd.State != client.StateDone {
		t.Fatalf("UpdateNode: %+v, %v", upd, err)
	}
	all[1].State = client.StateRunning
	if _, err := c.UpdateNode(ctx, &all[1], false); client.StatusOf(err) != http.StatusBadRequest ||
		!strings.Contains(err.Error(), "Transition not allowed") {
		t.Fatalf("UpdateNode done -> running: %v", err)
	}

	kb := all[2]
	kb.State, kb.Result = client.StateDone, new(string)
	*kb.Result = "pass"
	out, err := c.SubmitHierarchy(ctx, &client.Hierarchy{Node: &kb, ChildNodes: []*client.Hierarchy{
		{Node: &client.Node{Kind: "test", Name: "t1", Path: []string{"checkout", kb.Name, "t1"}, State: client.StateDone}},
		{Node: &client.Node{Kind: "test", Name: "t2", Path: []string{"checkout", kb.Name, "t2"}, State: client.StateDone}},
	}})
	if err != nil || len(out) != 3 || out[1].Parent == nil || *out[1].Parent != kb.ID {
		t.Fatalf("SubmitHierarchy: %v, %v", names(out), err)
	}
	n, err := c.SetProcessedByKCIDBBridge(ctx, []string{out[1].ID.String(), out[2].ID.String()}, true)
	if err != nil || n != 2 {
		t.Fatalf("SetProcessedByKCIDBBridge: %d, %v", n, err)
	}
	if _, err := c.SetProcessedByKCIDBBridge(ctx, []string{"x"}, true); err == nil {
		t.Fatal("SetProcessedByKCIDBBridge took a malformed id")
	}

	evs, err := c.Events(ctx, client.Where().Param("kind", "kbuild").Param("op", "updated"))
	if err != nil || len(evs) != 2 { // the PATCH and the hierarchy (the PUT had noevent)
		t.Fatalf("Events: %d, %v", len(evs), err)
	}
}

func TestPubSub(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, "abc", client.SubscribeOptions{Promiscuous: true})
	if err != nil || sub.Channel != "abc" || !sub.Promiscuous || sub.User != "admin" {
		t.Fatalf("Subscribe: %+v, %v", sub, err)
	}
	if err := c.Publish(ctx, "abc", client.PublishRequest{Data: map[string]any{"k": "v"}, Type: "t.example"}); err != nil {
		t.Fatal(err)
	}
	ev, err := c.NextEvent(ctx, sub.ID)
	if err != nil || ev.Type != "t.example" || ev.Owner != "admin" || ev.Data.(map[string]any)["k"] != "v" {
		t.Fatalf("NextEvent: %+v, %v", ev, err)
	}
	stats, err := c.SubscriptionStats(ctx)
	if err != nil || len(stats) != 1 || stats[0].ID != sub.ID {
		t.Fatalf("SubscriptionStats: %+v, %v", stats, err)
	}
	if err := c.Unsubscribe(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Listen(ctx, sub.ID); client.StatusOf(err) != http.StatusNotFound {
		t.Fatalf("Listen after Unsubscribe: %v", err)
	}

	if err := c.Push(ctx, "jobs", map[string]any{"n": 1}, map[string]any{"type": "job"}); err != nil {
		t.Fatal(err)
	}
	raw, err := c.Pop(ctx, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	var popped map[string]any
	if err := json.Unmarshal(raw, &popped); err != nil || popped["data"].(map[string]any)["n"] != float64(1) {
		t.Fatalf("Pop: %s, %v", raw, err)
	}

	if _, ok, err := c.GetKV(ctx, "ns", "k"); ok || err != nil {
		t.Fatalf("GetKV of nothing: %v, %v", ok, err)
	}
	if err := c.SetKV(ctx, "ns", "k", "v 1"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.GetKV(ctx, "ns", "k"); v != "v 1" || !ok || err != nil {
		t.Fatalf("GetKV: %q, %v, %v", v, ok, err)
	}
	if err := c.DeleteKV(ctx, "ns", "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.GetKV(ctx, "ns", "k"); ok {
		t.Fatal("DeleteKV left the key")
	}
}

func TestTelemetryAndOperations(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	ctx := context.Background()
	job := "baseline"
	n, err := c.PostTelemetry(ctx, []client.TelemetryEvent{
		{Ts: client.NewTime(time.Now()), Kind: "job_result", Runtime: "lava-a", JobName: &job},
		{Ts: client.NewTime(time.Now()), Kind: "job_result", Runtime: "lava-b", JobName: &job},
	})
	if err != nil || n != 2 {
		t.Fatalf("PostTelemetry: %d, %v", n, err)
	}
	p, err := c.Telemetry(ctx, client.Where().Eq("runtime", "lava-a"))
	if err != nil || p.Total != 1 || p.Items[0].Runtime != "lava-a" {
		t.Fatalf("Telemetry: %+v, %v", p, err)
	}
	if st, err := c.TelemetryStats(ctx, client.Where().Param("group_by", "runtime")); err != nil || !strings.Contains(string(st), "lava-b") {
		t.Fatalf("TelemetryStats: %s, %v", st, err)
	}
	if _, err := c.TelemetryAnomalies(ctx, nil); err != nil {
		t.Fatalf("TelemetryAnomalies: %v", err)
	}
	if err := c.Healthz(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Readyz(ctx); err != nil || r["status"] != "ready" {
		t.Fatalf("Readyz: %v, %v", r, err)
	}
	if m, err := c.Metrics(ctx); err != nil || !strings.Contains(m, "# TYPE") {
		t.Fatalf("Metrics: %.200s, %v", m, err)
	}
	if doc, err := c.OpenAPI(ctx); err != nil || !strings.Contains(string(doc), `"openapi"`) {
		t.Fatalf("OpenAPI: %.200s, %v", doc, err)
	}
	if me, err := c.Me(ctx); err != nil || me.Username != "admin" {
		t.Fatalf("Me: %+v, %v", me, err)
	}
}
