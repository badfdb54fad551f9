package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/wacht-platform/terraform-provider-wacht/internal/provider"
)

// Run "go generate" to format example Terraform files and generate the docs
// for the registry and the website. terraform fmt is skipped where no
// terraform binary is on PATH.
//go:generate sh -c "command -v terraform >/dev/null && terraform fmt -recursive ./examples/ || true"
//go:generate go tool tfplugindocs generate --provider-name wacht

// version is set at build time by goreleaser (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/wacht-platform/wacht",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
