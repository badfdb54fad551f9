package provider

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// NewProtocol6Server returns the factory of the server main.go serves and
// the tests use: the framework's protocol 6 server for this provider, in a
// releasingServer.
func NewProtocol6Server(version string) func() (tfprotov6.ProviderServer, error) {
	return func() (tfprotov6.ProviderServer, error) {
		inner, err := providerserver.NewProtocol6WithError(New(version)())()
		if err != nil {
			return nil, err
		}
		return newReleasingServer(inner)
	}
}

// protocol6Server is ProviderServer with the RPCs tfprotov6 still keeps in
// optional interfaces: tf6server serves those only when its downstream has
// them, so the wrapper must have them all.
//
//nolint:staticcheck // deprecated only in favour of ProviderServer, which does not have them yet
type protocol6Server interface {
	tfprotov6.ProviderServerWithListResource
	tfprotov6.ProviderServerWithActions
	tfprotov6.ProviderServerWithStateStores
}

// releasingServer works around a leak in terraform-plugin-framework v1.19.0
// (the latest): proto6server.Server.registerContext wraps every RPC's
// context in context.WithCancel and keeps the cancel func, and with it the
// whole context chain (loggers, gRPC data: some 35 KB), until StopProvider.
// A plan of 500 contexts so grew the provider by tens of MiB, and a destroy
// of thousands, whose paced deletes are never all done, by hundreds.
//
// So the framework never gets an RPC's own context, but an rpcContext that
// stands for it while the RPC runs (its values, deadline and cancellation)
// and lets go of it when the RPC ends: what the framework keeps is then a
// few hundred bytes per RPC. Work that outlives its RPC (the batch walk of
// reads.go) takes its context from outliveRPC, which keeps the RPC's values
// (its loggers) for as long as the work needs them.
//
// Terraform's StopProvider passes straight through, and cancels the RPCs in
// flight as before.
//
// Checked against terraform-plugin-framework v1.19.0. On an upgrade,
// TestReleasingServerDropsFinishedContexts says whether registerContext
// still keeps every context (drop the wrapper once it does not), and
// TestReleasingServerForwardsEveryRPCOfTheFramework names any RPC the
// framework's server gained that the wrapper must forward.
type releasingServer struct {
	inner protocol6Server
}

var _ protocol6Server = (*releasingServer)(nil)

func newReleasingServer(inner tfprotov6.ProviderServer) (*releasingServer, error) {
	full, ok := inner.(protocol6Server)
	if !ok {
		return nil, fmt.Errorf("%T lacks list resource, action or state store RPCs", inner)
	}
	return &releasingServer{inner: full}, nil
}

// rpcContext is an RPC's context as the framework sees it. The framework
// keeps it for good, so once the RPC ends it points to ended, shared by all,
// and its own contexts go: the framework then keeps 0.4 KiB per RPC, against
// 0.6 KiB when they stayed (TestReleasingServerDropsFinishedContexts), and a
// plan of 5,000 contexts, four RPCs each, peaks at 10 MiB of live heap
// against 17. Done then returns ended's channel, closed as its own was.
type rpcContext struct {
	state atomic.Pointer[rpcState]
}

// rpcState is what an rpcContext stands for.
type rpcState struct {
	own context.Context // its own cancellation and deadline, those of the RPC
	rpc context.Context // the RPC's context, for its values; nil once it ends
}

// ended is the state of every rpcContext whose RPC is over: done, no values.
var ended = func() *rpcState {
	own, cancel := context.WithCancel(context.Background())
	cancel()
	return &rpcState{own: own}
}()

// rpcContextKey finds the rpcContext a context is made from.
type rpcContextKey struct{}

func (c *rpcContext) Deadline() (time.Time, bool) { return c.state.Load().own.Deadline() }
func (c *rpcContext) Done() <-chan struct{}       { return c.state.Load().own.Done() }
func (c *rpcContext) Err() error                  { return c.state.Load().own.Err() }

// Value looks in the context package's own keys first, which make contexts
// made from this one follow its cancellation, then in the RPC's values.
func (c *rpcContext) Value(key any) any {
	if key == (rpcContextKey{}) {
		return c
	}
	s := c.state.Load()
	if v := s.own.Value(key); v != nil {
		return v
	}
	if s.rpc != nil {
		return s.rpc.Value(key)
	}
	return nil
}

// detach returns an rpcContext for ctx, and the function that ends it: it
// is then done, and holds nothing of ctx.
func detach(ctx context.Context) (context.Context, func()) {
	own, cancel := context.WithCancelCause(context.Background())
	cancelDeadline := context.CancelFunc(func() {})
	if deadline, ok := ctx.Deadline(); ok {
		own, cancelDeadline = context.WithDeadline(own, deadline)
	}
	c := &rpcContext{}
	c.state.Store(&rpcState{own: own, rpc: ctx})
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	return c, func() {
		stop()
		cancelDeadline()
		cancel(context.Canceled) // cancels the contexts made from c
		c.state.Store(ended)
	}
}

// outliveRPC is context.WithoutCancel for work that outlives the RPC it
// starts in: made from the RPC's own context, not from its rpcContext, it
// keeps the RPC's values for as long as the work holds it.
func outliveRPC(ctx context.Context) context.Context {
	if c, ok := ctx.Value(rpcContextKey{}).(*rpcContext); ok {
		if rpc := c.state.Load().rpc; rpc != nil {
			return context.WithoutCancel(rpc)
		}
	}
	return context.WithoutCancel(ctx)
}

// unary runs an RPC that is over when fn returns.
func unary[Req, Resp any](ctx context.Context, req Req, fn func(context.Context, Req) (Resp, error)) (Resp, error) {
	ctx, end := detach(ctx)
	defer end()
	return fn(ctx, req)
}

// streamed runs an RPC whose response carries an iterator, *seq(resp), that
// goes on using the RPC's context: the RPC is over once the iterator returns
// (consumed, or stopped early by its consumer), or once ctx is done if the
// iterator is never run.
func streamed[Req, Resp, T any](ctx context.Context, req Req, fn func(context.Context, Req) (*Resp, error), seq func(*Resp) *iter.Seq[T]) (*Resp, error) {
	detached, end := detach(ctx)
	handedOver := false
	defer func() {
		if !handedOver {
			end()
		}
	}()
	resp, err := fn(detached, req)
	if err != nil || resp == nil || *seq(resp) == nil {
		return resp, err
	}
	end = sync.OnceFunc(end)
	inner := *seq(resp)
	stop := context.AfterFunc(ctx, end)
	*seq(resp) = func(yield func(T) bool) {
		defer end()
		defer stop()
		inner(yield)
	}
	handedOver = true
	return resp, nil
}

func listResults(r *tfprotov6.ListResourceServerStream) *iter.Seq[tfprotov6.ListResourceResult] {
	return &r.Results
}

func actionEvents(r *tfprotov6.InvokeActionServerStream) *iter.Seq[tfprotov6.InvokeActionEvent] {
	return &r.Events
}

func stateChunks(r *tfprotov6.ReadStateBytesStream) *iter.Seq[tfprotov6.ReadStateByteChunk] {
	return &r.Chunks
}

// StopProvider is Terraform's: it cancels the RPCs in flight.
func (s *releasingServer) StopProvider(ctx context.Context, req *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	return s.inner.StopProvider(ctx, req)
}

func (s *releasingServer) GetMetadata(ctx context.Context, req *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	return unary(ctx, req, s.inner.GetMetadata)
}

func (s *releasingServer) GetProviderSchema(ctx context.Context, req *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	return unary(ctx, req, s.inner.GetProviderSchema)
}

func (s *releasingServer) GetResourceIdentitySchemas(ctx context.Context, req *tfprotov6.GetResourceIdentitySchemasRequest) (*tfprotov6.GetResourceIdentitySchemasResponse, error) {
	return unary(ctx, req, s.inner.GetResourceIdentitySchemas)
}

func (s *releasingServer) ValidateProviderConfig(ctx context.Context, req *tfprotov6.ValidateProviderConfigRequest) (*tfprotov6.ValidateProviderConfigResponse, error) {
	return unary(ctx, req, s.inner.ValidateProviderConfig)
}

func (s *releasingServer) ConfigureProvider(ctx context.Context, req *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	return unary(ctx, req, s.inner.ConfigureProvider)
}

func (s *releasingServer) ValidateResourceConfig(ctx context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	return unary(ctx, req, s.inner.ValidateResourceConfig)
}

func (s *releasingServer) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	return unary(ctx, req, s.inner.UpgradeResourceState)
}

func (s *releasingServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	return unary(ctx, req, s.inner.ReadResource)
}

func (s *releasingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	return unary(ctx, req, s.inner.PlanResourceChange)
}

func (s *releasingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	return unary(ctx, req, s.inner.ApplyResourceChange)
}

func (s *releasingServer) ImportResourceState(ctx context.Context, req *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	return unary(ctx, req, s.inner.ImportResourceState)
}

func (s *releasingServer) MoveResourceState(ctx context.Context, req *tfprotov6.MoveResourceStateRequest) (*tfprotov6.MoveResourceStateResponse, error) {
	return unary(ctx, req, s.inner.MoveResourceState)
}

func (s *releasingServer) UpgradeResourceIdentity(ctx context.Context, req *tfprotov6.UpgradeResourceIdentityRequest) (*tfprotov6.UpgradeResourceIdentityResponse, error) {
	return unary(ctx, req, s.inner.UpgradeResourceIdentity)
}

func (s *releasingServer) GenerateResourceConfig(ctx context.Context, req *tfprotov6.GenerateResourceConfigRequest) (*tfprotov6.GenerateResourceConfigResponse, error) {
	return unary(ctx, req, s.inner.GenerateResourceConfig)
}

func (s *releasingServer) ValidateDataResourceConfig(ctx context.Context, req *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	return unary(ctx, req, s.inner.ValidateDataResourceConfig)
}

func (s *releasingServer) ReadDataSource(ctx context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	return unary(ctx, req, s.inner.ReadDataSource)
}

func (s *releasingServer) CallFunction(ctx context.Context, req *tfprotov6.CallFunctionRequest) (*tfprotov6.CallFunctionResponse, error) {
	return unary(ctx, req, s.inner.CallFunction)
}

func (s *releasingServer) GetFunctions(ctx context.Context, req *tfprotov6.GetFunctionsRequest) (*tfprotov6.GetFunctionsResponse, error) {
	return unary(ctx, req, s.inner.GetFunctions)
}

func (s *releasingServer) ValidateEphemeralResourceConfig(ctx context.Context, req *tfprotov6.ValidateEphemeralResourceConfigRequest) (*tfprotov6.ValidateEphemeralResourceConfigResponse, error) {
	return unary(ctx, req, s.inner.ValidateEphemeralResourceConfig)
}

func (s *releasingServer) OpenEphemeralResource(ctx context.Context, req *tfprotov6.OpenEphemeralResourceRequest) (*tfprotov6.OpenEphemeralResourceResponse, error) {
	return unary(ctx, req, s.inner.OpenEphemeralResource)
}

func (s *releasingServer) RenewEphemeralResource(ctx context.Context, req *tfprotov6.RenewEphemeralResourceRequest) (*tfprotov6.RenewEphemeralResourceResponse, error) {
	return unary(ctx, req, s.inner.RenewEphemeralResource)
}

func (s *releasingServer) CloseEphemeralResource(ctx context.Context, req *tfprotov6.CloseEphemeralResourceRequest) (*tfprotov6.CloseEphemeralResourceResponse, error) {
	return unary(ctx, req, s.inner.CloseEphemeralResource)
}

func (s *releasingServer) ValidateListResourceConfig(ctx context.Context, req *tfprotov6.ValidateListResourceConfigRequest) (*tfprotov6.ValidateListResourceConfigResponse, error) {
	return unary(ctx, req, s.inner.ValidateListResourceConfig)
}

func (s *releasingServer) ListResource(ctx context.Context, req *tfprotov6.ListResourceRequest) (*tfprotov6.ListResourceServerStream, error) {
	return streamed(ctx, req, s.inner.ListResource, listResults)
}

func (s *releasingServer) ValidateActionConfig(ctx context.Context, req *tfprotov6.ValidateActionConfigRequest) (*tfprotov6.ValidateActionConfigResponse, error) {
	return unary(ctx, req, s.inner.ValidateActionConfig)
}

func (s *releasingServer) PlanAction(ctx context.Context, req *tfprotov6.PlanActionRequest) (*tfprotov6.PlanActionResponse, error) {
	return unary(ctx, req, s.inner.PlanAction)
}

func (s *releasingServer) InvokeAction(ctx context.Context, req *tfprotov6.InvokeActionRequest) (*tfprotov6.InvokeActionServerStream, error) {
	return streamed(ctx, req, s.inner.InvokeAction, actionEvents)
}

func (s *releasingServer) ValidateStateStoreConfig(ctx context.Context, req *tfprotov6.ValidateStateStoreConfigRequest) (*tfprotov6.ValidateStateStoreConfigResponse, error) {
	return unary(ctx, req, s.inner.ValidateStateStoreConfig)
}

func (s *releasingServer) ConfigureStateStore(ctx context.Context, req *tfprotov6.ConfigureStateStoreRequest) (*tfprotov6.ConfigureStateStoreResponse, error) {
	return unary(ctx, req, s.inner.ConfigureStateStore)
}

func (s *releasingServer) ReadStateBytes(ctx context.Context, req *tfprotov6.ReadStateBytesRequest) (*tfprotov6.ReadStateBytesStream, error) {
	return streamed(ctx, req, s.inner.ReadStateBytes, stateChunks)
}

// WriteStateBytes consumes its request stream before it returns.
func (s *releasingServer) WriteStateBytes(ctx context.Context, req *tfprotov6.WriteStateBytesStream) (*tfprotov6.WriteStateBytesResponse, error) {
	return unary(ctx, req, s.inner.WriteStateBytes)
}

func (s *releasingServer) GetStates(ctx context.Context, req *tfprotov6.GetStatesRequest) (*tfprotov6.GetStatesResponse, error) {
	return unary(ctx, req, s.inner.GetStates)
}

func (s *releasingServer) DeleteState(ctx context.Context, req *tfprotov6.DeleteStateRequest) (*tfprotov6.DeleteStateResponse, error) {
	return unary(ctx, req, s.inner.DeleteState)
}

func (s *releasingServer) LockState(ctx context.Context, req *tfprotov6.LockStateRequest) (*tfprotov6.LockStateResponse, error) {
	return unary(ctx, req, s.inner.LockState)
}

func (s *releasingServer) UnlockState(ctx context.Context, req *tfprotov6.UnlockStateRequest) (*tfprotov6.UnlockStateResponse, error) {
	return unary(ctx, req, s.inner.UnlockState)
}
