package main

// The point reads of the HTTP mode: GET /node/{id} and GET / against the
// static-handler floor, measured in alternating slices so that all three
// see the same load of a shared machine (one figure after the other,
// seconds apart, made their ratio noise at a load average of 20), with
// the server's CPU per request read from its own /metrics
// (process_cpu_seconds_total) around the slices of each figure.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// pointReads runs the floor, get_node and get_root, each for o.dur in
// o.readSlices turns, and returns the three figures.
func (b *httpBench) pointReads(ctx context.Context, ids []string, body []byte) ([]*httpResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	floorBench := &httpBench{o: b.o, client: b.client, api: "http://" + ln.Addr().String()}

	slices := max(1, b.o.readSlices)
	slice := b.o.dur / time.Duration(slices)
	floor := &httpResult{name: "floor_static_handler", unit: "req"}
	node := &httpResult{name: "get_node", unit: "req"}
	root := &httpResult{name: "get_root", unit: "req"}
	cpuKnown := true
	for range slices {
		floor.add(floorBench.load(ctx, floor.name, b.o.conns, slice, "req", func(*rand.Rand) string { return "/node/x" }))
		for _, f := range []struct {
			r    *httpResult
			path func(*rand.Rand) string
		}{
			{node, func(r *rand.Rand) string { return "/node/" + ids[r.IntN(len(ids))] }},
			{root, func(*rand.Rand) string { return "/" }},
		} {
			cpu0, err0 := b.serverCPU(ctx)
			part := b.load(ctx, f.r.name, b.o.conns, slice, "req", f.path)
			cpu1, err1 := b.serverCPU(ctx)
			if err0 != nil || err1 != nil {
				cpuKnown = false
			}
			f.r.add(part)
			f.r.serverCPU += cpu1 - cpu0
		}
	}
	for _, r := range []*httpResult{node, root} {
		r.floor, r.floorName = floor.rate(), floor.name
		if !cpuKnown {
			r.serverCPU = 0
		}
	}
	return []*httpResult{floor, node, root}, nil
}

// add accumulates one slice of a figure.
func (r *httpResult) add(part *httpResult) {
	r.ops += part.ops
	r.elapsed += part.elapsed
	r.lat = append(r.lat, part.lat...)
	r.errors += part.errors
	if r.firstErrMsg == "" {
		r.firstErrMsg = part.firstErrMsg
	}
}

// serverCPU reads process_cpu_seconds_total from the server's /metrics.
func (b *httpBench) serverCPU(ctx context.Context) (time.Duration, error) {
	text, err := b.kc.Metrics(ctx)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_cpu_seconds_total "); ok {
			s, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(s * float64(time.Second)), nil
		}
	}
	return 0, fmt.Errorf("no process_cpu_seconds_total in /metrics")
}
