// Command wacht-server runs the local Wacht server: an in-memory emulator of
// the Wacht execution-context API, for trying the provider without an
// account. It prints the settings a client needs, one "KEY=value" per line,
// and stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wacht-server:", err)
		os.Exit(1)
	}
}

// seedAgents are created when the store has no agent yet.
var seedAgents = []struct{ name, description string }{
	{"support-bot", "Answers customer support questions"},
	{"billing-bot", "Handles billing and invoice questions"},
}

// run serves until ctx ends, then shuts down and saves the state.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("wacht-server", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:8088", "address to listen on")
	apiKey := flags.String("api-key", os.Getenv("WACHT_API_KEY"), "accepted API key (default: $WACHT_API_KEY, else generated)")
	statePath := flags.String("state", "", "file that keeps the state across restarts")
	noLimits := flags.Bool("no-limits", false, "disable rate limiting")
	latency := flags.Duration("latency", 0, "delay added to every request")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	srv, err := localserver.New(localserver.Options{
		APIKey:        *apiKey,
		StatePath:     *statePath,
		DisableLimits: *noLimits,
		Latency:       *latency,
	})
	if err != nil {
		return err
	}
	if len(srv.Agents()) == 0 {
		for _, a := range seedAgents {
			srv.AddAgent(a.name, a.description)
		}
	}
	url, err := srv.Start(*addr)
	if err != nil {
		return err
	}

	fmt.Fprintf(stdout, "Wacht local server listening on %s\n", url)
	fmt.Fprintf(stdout, "WACHT_API_URL=%s\n", url)
	fmt.Fprintf(stdout, "WACHT_API_KEY=%s\n", srv.APIKey())
	agents := srv.Agents()
	// Oldest first, so the seeded agents print in seeding order.
	for i := len(agents) - 1; i >= 0; i-- {
		fmt.Fprintf(stdout, "agent %s: %s\n", agents[i].Name, agents[i].ID)
	}

	<-ctx.Done()
	return srv.Close()
}
