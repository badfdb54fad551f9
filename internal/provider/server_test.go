package provider

import (
	"context"
	"errors"
	"iter"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
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

// blocker holds its GetMetadata calls until unblocked.
type blocker struct {
	protocol6Server
	unblock chan struct{}
}

func (b *blocker) GetMetadata(ctx context.Context, req *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	<-b.unblock
	return b.protocol6Server.GetMetadata(ctx, req)
}

// Without the wrapper the framework keeps every read's context, and all it
// carries, for good; with it, none once the read is over, though another
// RPC is in flight all along, as a destroy's paced deletes are.
func TestReleasingServerDropsFinishedContexts(t *testing.T) {
	const n = 200
	for _, wrapped := range []bool{false, true} {
		framework, req := readSetup(t, 0)
		var server tfprotov6.ProviderServer = framework
		if wrapped {
			b := &blocker{protocol6Server: framework, unblock: make(chan struct{})}
			rs, err := newReleasingServer(b)
			if err != nil {
				t.Fatal(err)
			}
			server = rs
			done := make(chan struct{})
			go func() {
				defer close(done)
				if _, err := rs.GetMetadata(context.Background(), &tfprotov6.GetMetadataRequest{}); err != nil {
					t.Error(err)
				}
			}()
			t.Cleanup(func() { close(b.unblock); <-done })
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
		cancels := retainedCancels(t, framework) - cancelsBefore
		t.Logf("wrapped %v: %d of %d contexts alive, %d cancel funcs kept, heap %+.1f KiB per read",
			wrapped, alive, n, cancels, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1024/n)
		switch {
		case !wrapped && (alive != n || cancels != n):
			t.Errorf("unwrapped: %d contexts alive, %d cancel funcs kept, want all %d: has the framework stopped keeping them? "+
				"Then releasingServer can go", alive, cancels, n)
		case wrapped && alive != 0:
			t.Errorf("wrapped: %d of %d contexts alive once their reads were over, want none", alive, n)
		}
	}
}

type otherKey struct{}

// An rpcContext has the RPC's values, deadline and cancellation while the
// RPC runs; once it ends, it is done and has nothing of the RPC's, but work
// that outlives the RPC goes on, and on outliveRPC's context keeps its values.
func TestRPCContextStandsForTheRPCUntilItEnds(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	parent, cancelParent := context.WithDeadline(context.WithValue(context.Background(), otherKey{}, "v"), deadline)
	defer cancelParent()
	ctx, end := detach(parent)
	framework, cancel := context.WithCancel(ctx) // as proto6server.registerContext makes it
	defer cancel()
	outliving := context.WithoutCancel(framework)
	kept := outliveRPC(framework)

	if got := framework.Value(otherKey{}); got != "v" {
		t.Errorf("value %v during the RPC, want v", got)
	}
	if got, ok := framework.Deadline(); !ok || !got.Equal(deadline) {
		t.Errorf("deadline %v, %v during the RPC, want %v", got, ok, deadline)
	}
	if framework.Err() != nil {
		t.Errorf("done during the RPC: %v", framework.Err())
	}
	end()
	if !errors.Is(framework.Err(), context.Canceled) {
		t.Errorf("error %v after the RPC, want it canceled", framework.Err())
	}
	if got := framework.Value(otherKey{}); got != nil {
		t.Errorf("value %v after the RPC, want none", got)
	}
	if outliving.Err() != nil || kept.Err() != nil {
		t.Errorf("work outliving the RPC stopped: %v, %v", outliving.Err(), kept.Err())
	}
	if got := kept.Value(otherKey{}); got != "v" {
		t.Errorf("value %v on outliveRPC's context after the RPC, want v", got)
	}

	stopped := errors.New("stopped by Terraform")
	rpcCtx, cancelRPC := context.WithCancelCause(context.Background())
	ctx, end = detach(rpcCtx)
	defer end()
	framework, cancel = context.WithCancel(ctx)
	defer cancel()
	cancelRPC(stopped)
	select {
	case <-framework.Done():
		if cause := context.Cause(framework); !errors.Is(cause, stopped) {
			t.Errorf("cancelled with %v, want the RPC's cause", cause)
		}
	case <-time.After(5 * time.Second):
		t.Error("the RPC's cancellation did not reach the framework's context")
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
	// A stop that comes before the read has begun cancels nothing: stop
	// until the read gives up.
	for deadline := time.Now().Add(10 * time.Second); ; {
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
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the read went on after StopProvider")
		}
	}
}

// stubServer answers the streaming RPCs with three empty items, or fail,
// and counts the items made with the RPC's values out of reach. Like the
// framework, it keeps every RPC's context.
type stubServer struct {
	protocol6Server // nil: the tests make no other RPCs
	fail            error
	blind           atomic.Int64
	contexts        []context.Context
}

// items yields n zero items, checking ctx's values before each.
func items[T any](s *stubServer, ctx context.Context, n int) iter.Seq[T] {
	s.contexts = append(s.contexts, ctx)
	return func(yield func(T) bool) {
		for range n {
			if ctx.Value(payloadKey{}) == nil {
				s.blind.Add(1)
			}
			var zero T
			if !yield(zero) {
				return
			}
		}
	}
}

func (s *stubServer) ListResource(ctx context.Context, _ *tfprotov6.ListResourceRequest) (*tfprotov6.ListResourceServerStream, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	return &tfprotov6.ListResourceServerStream{Results: items[tfprotov6.ListResourceResult](s, ctx, 3)}, nil
}

func (s *stubServer) InvokeAction(ctx context.Context, _ *tfprotov6.InvokeActionRequest) (*tfprotov6.InvokeActionServerStream, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	return &tfprotov6.InvokeActionServerStream{Events: items[tfprotov6.InvokeActionEvent](s, ctx, 3)}, nil
}

func (s *stubServer) ReadStateBytes(ctx context.Context, _ *tfprotov6.ReadStateBytesRequest) (*tfprotov6.ReadStateBytesStream, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	return &tfprotov6.ReadStateBytesStream{Chunks: items[tfprotov6.ReadStateByteChunk](s, ctx, 3)}, nil
}

// A streaming RPC keeps its context's values until its iterator has
// returned, whether its consumer read it all or stopped early, or, never
// run, until its context is done; then lets go of them.
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
	// opened opens a stream with a context, made of parent, that carries a
	// payload, and returns the stream and a weak pointer to the payload.
	opened := func(parent context.Context) (iter.Seq[T], weak.Pointer[[32 << 10]byte]) {
		t.Helper()
		payload := new([32 << 10]byte)
		seq, err := open(server, context.WithValue(parent, payloadKey{}, payload))
		if err != nil {
			t.Fatal(err)
		}
		return seq, weak.Make(payload)
	}
	kept := func(p weak.Pointer[[32 << 10]byte]) bool {
		runtime.GC()
		return p.Value() != nil
	}

	// Stopped early.
	seq, payload := opened(context.Background())
	if !kept(payload) {
		t.Fatal("the RPC's values are gone while its stream is open")
	}
	for range seq {
		break
	}
	if kept(payload) {
		t.Error("the RPC's values are kept once its consumer stopped")
	}

	// Read to the end.
	seq, payload = opened(context.Background())
	n := 0
	for range seq {
		n++
	}
	if n != 3 || kept(payload) {
		t.Errorf("%d items read, values kept after: %v; want 3, false", n, kept(payload))
	}
	if blind := stub.blind.Load(); blind != 0 {
		t.Errorf("%d items made without the RPC's values", blind)
	}

	// Never run.
	ctx, cancel := context.WithCancel(context.Background())
	_, payload = opened(ctx)
	cancel()
	for deadline := time.Now().Add(5 * time.Second); kept(payload); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a stream never run keeps its RPC's values after its context is done")
		}
	}

	// Failed.
	stub.fail = errors.New("refused")
	if _, err := open(server, context.Background()); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("error %v, want the inner server's", err)
	}
}

// The list resource, served by the framework, streams through the wrapper
// as without it.
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
}

// An upgrade of the framework that adds an RPC, from any of tfprotov6's
// interfaces, must not be hidden by a wrapper that does not forward it:
// tf6server serves an optional RPC only when its downstream has the method.
func TestReleasingServerForwardsEveryRPCOfTheFramework(t *testing.T) {
	inner, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	framework, wrapper := reflect.TypeOf(inner), reflect.TypeOf(&releasingServer{})
	if framework.NumMethod() < 20 {
		t.Fatalf("the framework's server has %d methods: not the RPC set this test expects", framework.NumMethod())
	}
	for i := range framework.NumMethod() {
		name := framework.Method(i).Name
		m, ok := wrapper.MethodByName(name)
		if !ok {
			t.Errorf("%v has %s, which the releasingServer does not forward: add it (and to protocol6Server, if tfprotov6 keeps it in an optional interface)", framework, name)
			continue
		}
		if got, want := m.Type.NumIn(), framework.Method(i).Type.NumIn(); got != want {
			t.Errorf("%s takes %d arguments on the releasingServer, %d on the framework's server", name, got, want)
		}
	}
}
