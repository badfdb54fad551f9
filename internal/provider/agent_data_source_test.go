package provider

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

const agentsRoute = "/ai/agents"

func agentDataBlock(name, args string) string {
	return fmt.Sprintf("data \"wacht_agent\" %q {\n  %s\n}\n", name, args)
}

// agentServer holds, besides support-bot: an agent whose name contains
// support-bot, two agents sharing a name, and "bot" behind 150 agents whose
// names contain it, so that finding it takes more than one page.
func agentServer(t *testing.T) (srv testServer, bot, twins []string) {
	srv = startServer(t, localserver.Options{DisableLimits: true})
	srv.AddAgent("support-bot-eu", "answers tickets in Europe")
	twins = []string{srv.AddAgent("twin", "").ID, srv.AddAgent("twin", "").ID}
	bot = []string{srv.AddAgent("bot", "").ID}
	for i := range 150 {
		srv.AddAgent(fmt.Sprintf("bot-%03d", i), "")
	}
	return srv, bot, twins
}

func TestAccAgentDataSource(t *testing.T) {
	srv, bot, _ := agentServer(t)
	var support localserver.Agent
	for _, a := range srv.Agents() {
		if a.ID == srv.agentID {
			support = a
		}
	}
	check := func(addr string, want localserver.Agent) []statecheck.StateCheck {
		value := func(attr, v string) statecheck.StateCheck {
			return statecheck.ExpectKnownValue(addr, tfjsonpath.New(attr), knownvalue.StringExact(v))
		}
		return []statecheck.StateCheck{
			value("id", want.ID), value("name", want.Name), value("description", want.Description),
			value("deployment_id", srv.DeploymentID()),
			value("created_at", timestamp(want.CreatedAt).ValueString()),
			value("updated_at", timestamp(want.UpdatedAt).ValueString()),
		}
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			PreConfig: srv.ResetRequests,
			Config: srv.withBlocks(
				agentDataBlock("by_name", `name = "support-bot"`), // support-bot-eu matches the search too
				agentDataBlock("by_id", fmt.Sprintf("id = %q", srv.agentID)),
				agentDataBlock("paged", `name = "bot"`),
			),
			ConfigStateChecks: append(append(check("data.wacht_agent.by_name", support), check("data.wacht_agent.by_id", support)...),
				statecheck.ExpectKnownValue("data.wacht_agent.paged", tfjsonpath.New("id"), knownvalue.StringExact(bot[0]))),
			Check: func(*terraform.State) error {
				// "bot" is on the second page of the 153 agents whose names contain it.
				if n := srv.Count(http.MethodGet, agentsRoute, 200); n < 3 {
					return fmt.Errorf("%d agent list requests, want at least two pages for bot and one for support-bot", n)
				}
				return nil
			},
		}},
	})
}

func TestAccAgentDataSourceErrors(t *testing.T) {
	preCheck(t)
	srv, _, twins := agentServer(t)
	cases := []struct {
		name, args, want string
	}{
		{"no such name", `name = "nobody"`, `(?s)Agent not found.*name: no agent named "nobody" exists.*No agent's name\s+contains "nobody" either`},
		{"case mismatch", `name = "Bot"`, `(?s)Agent not found.*no agent named "Bot".*Agents whose names\s+contain it: "bot",\s+"bot-000",.*"bot-008"\s+and\s+143\s+more\.`},
		{"shared name", `name = "twin"`, fmt.Sprintf(`(?s)Agent name is ambiguous.*name: 2 agents are named "twin", with ids\s+%s,\s+%s\..*set id instead`, twins[0], twins[1])},
		{"unknown id", `id = "123456789"`, `(?s)Agent not found.*id: no agent 123456789 exists`},
		{"bad id", `id = "support-bot"`, `(?s)Invalid Wacht id.*id.*decimal integer`},
		{"empty name", `name = ""`, `(?s)name string length must be at least 1`},
		{"both", fmt.Sprintf("id = %q\n  name = \"support-bot\"", srv.agentID), `(?s)Invalid Attribute Combination.*Exactly one of these attributes must be configured: \[id,name\]`},
		{"neither", "", `(?s)Missing Attribute Configuration.*Exactly one of these attributes must be configured: \[id,name\]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: protoV6,
				Steps:                    []resource.TestStep{{Config: srv.withBlocks(agentDataBlock("x", tc.args)), ExpectError: regexp.MustCompile(tc.want)}},
			})
		})
	}
}
