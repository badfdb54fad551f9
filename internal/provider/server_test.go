package provider

import (
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// readSetup is the framework's server for the provider, configured against
// the local server to read with plain GETs as fast as the server answers,
// and a read of one context there.
func readSetup(t *testing.T, latency time.Duration) (protocol6Server, *tfprotov6.ReadResourceRequest) {
	t.Helper()
	srv := startServer(t, localserver.Options{DisableLimits: true, Latency: latency})
	ec := srv.AddContext(localserver.ExecutionContext{Title: "triage", AgentID: &srv.agentID})
	rate := tftypes.Object{AttributeTypes: map[string]tftypes.Type{"per_minute": tftypes.Number, "burst": tftypes.Number}}
	limits := tftypes.Object{AttributeTypes: map[string]tftypes.Type{"read": rate, "create": rate, "update": rate, "delete": rate}}
	unlimited := tftypes.NewValue(rate, map[string]tftypes.Value{"per_minute": tftypes.NewValue(tftypes.Number, 0), "burst": tftypes.NewValue(tftypes.Number, 1)})
	p := srv.proto(t, protoSetup{settings: map[string]tftypes.Value{
		"batch_reads": boolean(false),
		"rate_limits": object(limits, map[string]tftypes.Value{"read": unlimited}),
	}})
	srv.SetLatency(0)
	imported, err := p.server.ImportResourceState(context.Background(), &tfprotov6.ImportResourceStateRequest{TypeName: contextType, ID: ec.ID})
	if err != nil {
		t.Fatal(err)
	}
	p.noErrors("ImportResourceState", imported.Diagnostics)
	srv.SetLatency(latency)
	res := imported.ImportedResources[0]
	inner := p.server
	if wrapped, ok := inner.(*releasingServer); ok { // the framework's own server, to wrap or not
		inner = wrapped.inner
	}
	return inner, &tfprotov6.ReadResourceRequest{TypeName: contextType, CurrentState: res.State, CurrentIdentity: res.Identity}
}

// retainedCancels is the length of the framework's list of cancel funcs.
func retainedCancels(t *testing.T, framework tfprotov6.ProviderServer) int {
	t.Helper()
	field := reflect.ValueOf(framework).Elem().FieldByName("contextCancels")
	if !field.IsValid() {
		t.Fatalf("%T has no contextCancels any more: check whether its registerContext still keeps every request's context, "+
			"and whether releasingServer is still needed", framework)
	}
	return field.Len()
}

// busy tells whether an RPC holds the server's read lock.
func (s *releasingServer) busy() bool {
	if s.mu.TryLock() {
		s.mu.Unlock()
		return false
	}
	return true
}

type payloadKey struct{}

// readWithPayload reads with a context that carries 32 KiB, as Terraform's
// carry loggers and gRPC data, and returns a weak pointer to it.
func readWithPayload(t *testing.T, server tfprotov6.ProviderServer, req *tfprotov6.ReadResourceRequest) weak.Pointer[[32 << 10]byte] {
	payload := new([32 << 10]byte)
	resp, err := server.ReadResource(context.WithValue(context.Background(), payloadKey{}, payload), req)
	if err != nil {
		t.Fatal(err)
	}
	if text := diagText(resp.Diagnostics); text != "" {
		t.Fatalf("ReadResource: %s", text)
	}
	return weak.Make(payload)
}

// Without the wrapper the framework keeps every read's context, and all it
// carries, for good; with it, no more than the last releaseEvery.
func TestReleasingServerDropsFinishedContexts(t *testing.T) {
	const n = 200
	for _, wrapped := range []bool{false, true} {
		framework, req := readSetup(t, 0)
		var server tfprotov6.ProviderServer = framework
		if wrapped {
			server, _ = newReleasingServer(framework)
		}
		cancelsBefore := retainedCancels(t, framework)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		payloads := make([]weak.Pointer[[32 << 10]byte], n)
		for i := range payloads {
			payloads[i] = readWithPayload(t, server, req)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		alive := 0
		for _, p := range payloads {
			if p.Value() != nil {
				alive++
			}
		}
		cancels := retainedCancels(t, framework)
		t.Logf("wrapped %v: %d of %d contexts alive, %d cancel funcs kept, heap %+.1f MiB",
			wrapped, alive, n, cancels, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20))
		switch {
		case !wrapped && (alive != n || cancels != cancelsBefore+n):
			t.Errorf("unwrapped: %d contexts alive, %d cancel funcs kept, want all %d: has the framework stopped keeping them? "+
				"Then releasingServer can go", alive, cancels-cancelsBefore, n)
		case wrapped && (alive >= releaseEvery || cancels >= releaseEvery):
			t.Errorf("wrapped: %d contexts alive, %d cancel funcs kept, want fewer than %d", alive, cancels, releaseEvery)
		}
	}
}

// stopCounter counts the StopProvider calls that reach the framework.
type stopCounter struct {
	protocol6Server
	stops  atomic.Int64
	during func() // runs in each StopProvider
}

func (s *stopCounter) StopProvider(ctx context.Context, req *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	s.stops.Add(1)
	if s.during != nil {
		s.during()
	}
	return s.protocol6Server.StopProvider(ctx, req)
}

// Reads made at once, with pauses between them as Terraform makes, are
// released between them and never cancelled: each read is a GET that the
// server answers after a latency, and fails on a cancelled context.
func TestReleasingServerNeverCancelsRPCsInFlight(t *testing.T) {
	const workers, reads = 4, 100
	framework, req := readSetup(t, 2*time.Millisecond)
	var working atomic.Int64
	working.Store(workers)
	var whileWorking atomic.Int64 // releases while another worker had reads to make
	counter := &stopCounter{protocol6Server: framework, during: func() {
		if working.Load() > 1 {
			whileWorking.Add(1)
		}
	}}
	server, err := newReleasingServer(counter)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			defer working.Add(-1)
			for range reads {
				resp, err := server.ReadResource(context.Background(), req)
				if err != nil {
					t.Error(err)
					return
				}
				if text := diagText(resp.Diagnostics); text != "" {
					t.Errorf("ReadResource: %s", text)
					return
				}
				time.Sleep(rand.N(4 * time.Millisecond))
			}
		})
	}
	wg.Wait()
	t.Logf("%d releases, %d while reads were going on", counter.stops.Load(), whileWorking.Load())
	if whileWorking.Load() == 0 {
		t.Error("no release while reads were going on: the test proves nothing")
	}
	if n := retainedCancels(t, framework); n >= releaseEvery {
		t.Errorf("%d cancel funcs kept once idle, want fewer than %d", n, releaseEvery)
	}
}

// Terraform's StopProvider reaches the framework without waiting for the
// RPCs in flight, and cancels them.
func TestReleasingServerPassesTerraformsStopThrough(t *testing.T) {
	framework, req := readSetup(t, time.Minute)
	server, err := newReleasingServer(framework)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *tfprotov6.ReadResourceResponse, 1)
	go func() {
		resp, err := server.ReadResource(context.Background(), req)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	for !server.busy() {
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if _, err := server.StopProvider(context.Background(), &tfprotov6.StopProviderRequest{}); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("StopProvider waited for the read in flight")
	}
	select {
	case resp := <-done:
		if resp != nil {
			wantError(t, resp.Diagnostics, `context canceled`)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read went on after StopProvider")
	}
}

// stubServer answers the streaming RPCs with three empty items, or fail.
type stubServer struct {
	protocol6Server // nil: the tests make no other RPCs
	stops           atomic.Int64
	fail            error
}

func (s *stubServer) StopProvider(context.Context, *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	s.stops.Add(1)
	return &tfprotov6.StopProviderResponse{}, nil
}

func (s *stubServer) GetMetadata(context.Context, *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	return &tfprotov6.GetMetadataResponse{}, nil
}

func (s *stubServer) ListResource(context.Context, *tfprotov6.ListResourceRequest) (*tfprotov6.ListResourceServerStream, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	return &tfprotov6.ListResourceServerStream{Results: slices.Values(make([]tfprotov6.ListResourceResult, 3))}, nil
}

func (s *stubServer) InvokeAction(context.Context, *tfprotov6.InvokeActionRequest) (*tfprotov6.InvokeActionServerStream, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	return &tfprotov6.InvokeActionServerStream{Events: slices.Values(make([]tfprotov6.InvokeActionEvent, 3))}, nil
}

func (s *stubServer) ReadStateBytes(context.Context, *tfprotov6.ReadStateBytesRequest) (*tfprotov6.ReadStateBytesStream, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	return &tfprotov6.ReadStateBytesStream{Chunks: slices.Values(make([]tfprotov6.ReadStateByteChunk, 3))}, nil
}

// A streaming RPC is in flight until its iterator has returned, whether its
// consumer read it all or stopped early, or, never run, until its context
// is done; no release happens meanwhile.
func TestReleasingServerHoldsStreamsUntilConsumed(t *testing.T) {
	t.Run("ListResource", func(t *testing.T) {
		checkStream(t, func(s *releasingServer, ctx context.Context) (iter.Seq[tfprotov6.ListResourceResult], error) {
			resp, err := s.ListResource(ctx, &tfprotov6.ListResourceRequest{})
			if err != nil {
				return nil, err
			}
			return resp.Results, nil
		})
	})
	t.Run("InvokeAction", func(t *testing.T) {
		checkStream(t, func(s *releasingServer, ctx context.Context) (iter.Seq[tfprotov6.InvokeActionEvent], error) {
			resp, err := s.InvokeAction(ctx, &tfprotov6.InvokeActionRequest{})
			if err != nil {
				return nil, err
			}
			return resp.Events, nil
		})
	})
	t.Run("ReadStateBytes", func(t *testing.T) {
		checkStream(t, func(s *releasingServer, ctx context.Context) (iter.Seq[tfprotov6.ReadStateByteChunk], error) {
			resp, err := s.ReadStateBytes(ctx, &tfprotov6.ReadStateBytesRequest{})
			if err != nil {
				return nil, err
			}
			return resp.Chunks, nil
		})
	})
}

func checkStream[T any](t *testing.T, open func(*releasingServer, context.Context) (iter.Seq[T], error)) {
	stub := &stubServer{}
	server, err := newReleasingServer(stub)
	if err != nil {
		t.Fatal(err)
	}
	mustOpen := func(ctx context.Context) iter.Seq[T] {
		t.Helper()
		seq, err := open(server, ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !server.busy() {
			t.Fatal("not in flight once open")
		}
		return seq
	}

	// Stopped early, after enough RPCs for a release.
	seq := mustOpen(context.Background())
	for range releaseEvery {
		if _, err := server.GetMetadata(context.Background(), &tfprotov6.GetMetadataRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := stub.stops.Load(); n != 0 {
		t.Fatalf("%d releases with the stream open, want none", n)
	}
	for range seq {
		break
	}
	if server.busy() {
		t.Error("still in flight once its consumer stopped")
	}
	if n := stub.stops.Load(); n != 1 {
		t.Errorf("%d releases once the stream is over, want 1", n)
	}

	// Read to the end.
	seq = mustOpen(context.Background())
	items := 0
	for range seq {
		items++
	}
	if items != 3 || server.busy() {
		t.Errorf("%d items read, in flight after: %v; want 3, false", items, server.busy())
	}

	// Never run.
	ctx, cancel := context.WithCancel(context.Background())
	_ = mustOpen(ctx)
	cancel()
	for deadline := time.Now().Add(5 * time.Second); server.busy(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a stream never run is still in flight after its context is done")
		}
	}

	// Failed.
	stub.fail = errors.New("refused")
	if _, err := open(server, context.Background()); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("error %v, want the inner server's", err)
	}
	if server.busy() {
		t.Error("a failed RPC is still in flight")
	}
}

// The list resource, served by the framework, streams through the wrapper
// as without it, and is in flight until its results have been read.
func TestReleasingServerStreamsTheListResource(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	srv.seedContexts(srv.agentID, 5, nil)
	p := srv.proto(t, protoSetup{})
	server, err := newReleasingServer(p.server)
	if err != nil {
		t.Fatal(err)
	}
	p.server = server
	results, diags := p.list(listRequest{config: map[string]tftypes.Value{"agent_id": str(srv.agentID)}})
	p.noErrors("ListResource", diags)
	if got, want := ids(results), srv.apiOrder(ofAgent(srv.agentID)); !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if server.busy() {
		t.Error("still in flight once its results were read")
	}
}
