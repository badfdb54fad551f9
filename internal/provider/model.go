package provider

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Models in and out of Terraform data without the framework's reflection.
//
// tfsdk.State.Get and Set convert a model struct by reflection that compiles
// a regular expression for every field on every call
// (terraform-plugin-framework v1.19.0, internal/reflect.isValidFieldName): a
// Get and a Set of an execution context cost some 350 µs and 1,500
// allocations, a tenth of the provider's CPU on a refresh of 500 contexts,
// where Read runs once for each. getModel and setModel go through a
// types.Object instead and look each model type's fields up once
// (BenchmarkModelConversion compares the two). A model's fields are attribute
// values of the schema's exact types (types.String, timeouts.Value, ...),
// named by their tfsdk tags; embedded structs are flattened.

// modelFieldCache maps a model struct type to its modelFields.
var modelFieldCache sync.Map

// modelFields maps the attribute names of a model struct type to the indexes
// of their fields.
func modelFields(t reflect.Type) map[string][]int {
	if cached, ok := modelFieldCache.Load(t); ok {
		if fields, ok := cached.(map[string][]int); ok {
			return fields
		}
	}
	fields := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		if name, ok := f.Tag.Lookup("tfsdk"); ok && name != "-" {
			fields[name] = f.Index
		}
	}
	modelFieldCache.Store(t, fields)
	return fields
}

// getModel reads data (a State, Plan, Config or ResourceIdentity) into
// model, a pointer to a model struct.
func getModel(ctx context.Context, data interface {
	Get(context.Context, any) diag.Diagnostics
}, model any,
) diag.Diagnostics {
	var obj types.Object
	diags := data.Get(ctx, &obj)
	if diags.HasError() {
		return diags
	}
	v := reflect.ValueOf(model).Elem()
	fields, attrs := modelFields(v.Type()), obj.Attributes()
	if len(fields) != len(attrs) {
		diags.AddError("Model does not match the schema",
			fmt.Sprintf("%s has %d attributes, the data %d. This is a bug in the provider.", v.Type(), len(fields), len(attrs)))
		return diags
	}
	for name, index := range fields {
		value, ok := attrs[name]
		field := v.FieldByIndex(index)
		if !ok || reflect.TypeOf(value) != field.Type() {
			diags.AddError("Model does not match the schema",
				fmt.Sprintf("Attribute %q is %T in the data, %s in %s. This is a bug in the provider.", name, value, field.Type(), v.Type()))
			return diags
		}
		field.Set(reflect.ValueOf(value))
	}
	return diags
}

// setModel writes model, a model struct or a pointer to one, into data (a
// State, Plan or ResourceIdentity) whose schema is of type typ.
func setModel(ctx context.Context, data interface {
	Set(context.Context, any) diag.Diagnostics
}, typ attr.Type, model any,
) diag.Diagnostics {
	var diags diag.Diagnostics
	v := reflect.Indirect(reflect.ValueOf(model))
	attrs := map[string]attr.Value{}
	for name, index := range modelFields(v.Type()) {
		value, ok := v.FieldByIndex(index).Interface().(attr.Value)
		if !ok {
			diags.AddError("Model does not match the schema",
				fmt.Sprintf("Field %q of %s is no attribute value. This is a bug in the provider.", name, v.Type()))
			return diags
		}
		attrs[name] = value
	}
	objType, ok := typ.(attr.TypeWithAttributeTypes)
	if !ok {
		diags.AddError("Model does not match the schema", fmt.Sprintf("The data's type, %s, is no object. This is a bug in the provider.", typ))
		return diags
	}
	obj, diags := types.ObjectValue(objType.AttributeTypes(), attrs)
	if diags.HasError() {
		return diags
	}
	return append(diags, data.Set(ctx, obj)...)
}
