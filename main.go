package main

import (
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

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

	// tf6server.Serve as providerserver.Serve calls it, but with the server
	// that releases the framework's per-request contexts (see
	// provider.NewProtocol6Server).
	server, err := provider.NewProtocol6Server(version)()
	if err != nil {
		log.Fatal(err.Error())
	}
	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	err = tf6server.Serve("registry.terraform.io/wacht-platform/wacht", func() tfprotov6.ProviderServer { return server }, opts...)
	if err != nil {
		log.Fatal(err.Error())
	}
}
