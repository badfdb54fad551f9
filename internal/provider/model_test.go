package provider

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// contextSchemaState is an empty state of the execution context resource,
// and the type of its timeouts block.
func contextSchemaState(t testing.TB) (tfsdk.State, map[string]attr.Type) {
	t.Helper()
	var sr resource.SchemaResponse
	newExecutionContextResource().Schema(context.Background(), resource.SchemaRequest{}, &sr)
	if sr.Diagnostics.HasError() {
		t.Fatal(sr.Diagnostics)
	}
	objType, ok := sr.Schema.Type().(attr.TypeWithAttributeTypes)
	if !ok {
		t.Fatalf("the schema's type is %T", sr.Schema.Type())
	}
	timeoutsType, ok := objType.AttributeTypes()["timeouts"].(timeouts.Type)
	if !ok {
		t.Fatalf("timeouts is %T", objType.AttributeTypes()["timeouts"])
	}
	return tfsdk.State{Schema: sr.Schema}, timeoutsType.AttrTypes
}

// sampleModels are execution contexts with every kind of value: known, null,
// unknown (as in a plan), timeouts set and not.
func sampleModels(timeoutTypes map[string]attr.Type) map[string]executionContextResourceModel {
	known := executionContextResourceModel{
		contextFields:      newContextFields(sampleContext()),
		CancelOnDestroy:    types.BoolValue(true),
		DeletionProtection: types.BoolValue(false),
		Timeouts: timeouts.Value{Object: types.ObjectValueMust(timeoutTypes, map[string]attr.Value{
			"create": types.StringValue("5m"), "delete": types.StringNull(),
		})},
	}
	planned := executionContextResourceModel{
		contextFields:      contextFields{Title: types.StringValue("triage"), ID: types.StringUnknown(), Status: types.StringUnknown()},
		CancelOnDestroy:    types.BoolValue(false),
		DeletionProtection: types.BoolNull(),
		Timeouts:           timeouts.Value{Object: types.ObjectNull(timeoutTypes)},
	}
	return map[string]executionContextResourceModel{"known": known, "planned": planned}
}

// sampleContext is a context as the API sends it, some fields null.
func sampleContext() *wacht.ExecutionContext {
	at := time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)
	agent := "7"
	return &wacht.ExecutionContext{
		ID: "12", CreatedAt: at, UpdatedAt: at, LastActivityAt: at, DeploymentID: "3", Title: "triage",
		AgentID: &agent, Status: wacht.StatusIdle,
	}
}

func diagsText(diags diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.Summary() + ": " + d.Detail() + "\n")
	}
	return b.String()
}

func TestModelConversionMatchesTheFramework(t *testing.T) {
	ctx := context.Background()
	empty, timeoutTypes := contextSchemaState(t)
	for name, want := range sampleModels(timeoutTypes) {
		t.Run(name, func(t *testing.T) {
			ours, theirs := empty, empty
			if d := setModel(ctx, &ours, ours.Schema.Type(), &want); d.HasError() {
				t.Fatal(d)
			}
			if d := theirs.Set(ctx, &want); d.HasError() {
				t.Fatal(d)
			}
			if !ours.Raw.Equal(theirs.Raw) {
				t.Fatalf("setModel wrote\n%s\nthe framework\n%s", ours.Raw, theirs.Raw)
			}
			var got executionContextResourceModel
			if d := getModel(ctx, theirs, &got); d.HasError() {
				t.Fatal(d)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("getModel read\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestModelConversionRefusesAMismatch(t *testing.T) {
	ctx := context.Background()
	state, timeoutTypes := contextSchemaState(t)
	model := sampleModels(timeoutTypes)["known"]
	if d := setModel(ctx, &state, state.Schema.Type(), &model); d.HasError() {
		t.Fatal(d)
	}
	var short struct {
		contextFields
		CancelOnDestroy types.Bool `tfsdk:"cancel_on_destroy"`
	}
	var mistyped struct {
		contextFields
		CancelOnDestroy    types.String   `tfsdk:"cancel_on_destroy"`
		DeletionProtection types.Bool     `tfsdk:"deletion_protection"`
		Timeouts           timeouts.Value `tfsdk:"timeouts"`
	}
	for _, tc := range []struct {
		name, want string
		diags      func() string
	}{
		{"get, a field short", "has 12 attributes, the data 14", func() string { return diagsText(getModel(ctx, state, &short)) }},
		{"get, a field mistyped", `"cancel_on_destroy" is basetypes.BoolValue in the data`, func() string { return diagsText(getModel(ctx, state, &mistyped)) }},
		{"set, a field short", "deletion_protection", func() string { return diagsText(setModel(ctx, &state, state.Schema.Type(), short)) }},
		{"set, a field no attribute value", `Field "id" of struct { ID string`, func() string {
			return diagsText(setModel(ctx, &state, state.Schema.Type(), struct {
				ID string `tfsdk:"id"`
			}{ID: "12"}))
		}},
		{"set, into no object", "is no object", func() string { return diagsText(setModel(ctx, &state, types.StringType, &model)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.diags(); !strings.Contains(got, tc.want) {
				t.Errorf("diagnostics %q, want them to say %q", got, tc.want)
			}
		})
	}
}

// BenchmarkModelConversion reads and writes an execution context, as Read
// does, with the framework's Get and Set and with getModel and setModel,
// side by side: vs-framework is the time of ours over theirs.
func BenchmarkModelConversion(b *testing.B) {
	ctx := context.Background()
	state, timeoutTypes := contextSchemaState(b)
	model := sampleModels(timeoutTypes)["known"]
	if d := setModel(ctx, &state, state.Schema.Type(), &model); d.HasError() {
		b.Fatal(d)
	}
	framework := func() {
		var m executionContextResourceModel
		_ = state.Get(ctx, &m)
		_ = state.Set(ctx, &m)
	}
	ours := func() {
		var m executionContextResourceModel
		_ = getModel(ctx, state, &m)
		_ = setModel(ctx, &state, state.Schema.Type(), &m)
	}
	var theirs, mine time.Duration
	for b.Loop() {
		for _, run := range []struct {
			f   func()
			sum *time.Duration
		}{{framework, &theirs}, {ours, &mine}} {
			start := time.Now()
			run.f()
			*run.sum += time.Since(start)
		}
	}
	b.ReportMetric(float64(theirs.Microseconds())/float64(b.N), "framework-µs")
	b.ReportMetric(float64(mine.Microseconds())/float64(b.N), "ours-µs")
	b.ReportMetric(mine.Seconds()/theirs.Seconds(), "vs-framework")
}
