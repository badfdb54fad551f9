package provider

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// Proof under faults and hostile input: every test here talks to the local
// server on loopback only, with bounded request counts.

// A create carried out whose 200 answer names no context (a proxy that
// mangles the body: `{}`, or JSON cut short) is looked for and adopted like
// a 502 after the fact, never left on the server, tracked by nobody.
func TestAccCreateAnsweredWithAMangledBodyIsAdopted(t *testing.T) {
	for _, body := range []string{`{}`, `{"id":"72109`} {
		t.Run(body, func(t *testing.T) {
			srv := startServer(t, localserver.Options{})
			target, _ := url.Parse(srv.URL())
			var mangled atomic.Int32
			rp := httputil.NewSingleHostReverseProxy(target)
			rp.ModifyResponse = func(r *http.Response) error {
				if r.Request.Method == http.MethodPost && r.Request.URL.Path == "/ai/execution-contexts" && mangled.Add(1) == 1 {
					r.Body = io.NopCloser(strings.NewReader(body))
					r.ContentLength = int64(len(body))
					r.Header.Set("Content-Length", fmt.Sprint(len(body)))
				}
				return nil
			}
			proxy := httptest.NewServer(rp)
			t.Cleanup(proxy.Close)
			provider := strings.Replace(srv.providerBlock(), srv.URL(), proxy.URL, 1)
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: protoV6,
				Steps: []resource.TestStep{{
					Config: provider + "resource \"wacht_execution_context\" \"test\" {\n  title = \"mangled\"\n}\n",
					Check: func(st *terraform.State) error {
						all := srv.Contexts()
						if len(all) != 1 {
							return fmt.Errorf("%d contexts on the server, want 1", len(all))
						}
						return resource.TestCheckResourceAttr(ctxAddr, "id", all[0].ID)(st)
					},
				}},
			})
		})
	}
}

func TestAccLostCreateAnswerIsAdopted(t *testing.T) {
	srv := startServer(t, localserver.Options{Faults: localserver.Faults{LoseCreateResponses: 1}})
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             srv.destroyed,
		Steps: []resource.TestStep{{
			Config: srv.contextConfig(`title = "answer lost"`, fmt.Sprintf("agent_id = %q", srv.agentID)),
			Check: func(st *terraform.State) error {
				all := srv.Contexts()
				if len(all) != 1 {
					return fmt.Errorf("%d contexts on the server, want exactly 1", len(all))
				}
				return resource.TestCheckResourceAttr(ctxAddr, "id", all[0].ID)(st)
			},
		}},
	})
	if n := srv.Count(http.MethodPost, localserver.ContextsRoute, -1); n != 1 {
		t.Errorf("%d creates sent, want 1", n)
	}
}

// A twin made before the create was sent (by an earlier run, a minute ago) is
// not taken for the lost create's context: the window is the server's time.
func TestAccLostCreateAnswerIgnoresAnEarlierTwin(t *testing.T) {
	srv := startServer(t, localserver.Options{Faults: localserver.Faults{LoseCreateResponses: 1}})
	twin := srv.AddContext(localserver.ExecutionContext{Title: "twin", AgentID: &srv.agentID, CreatedAt: time.Now().Add(-time.Minute)})
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: srv.contextConfig(`title = "twin"`, fmt.Sprintf("agent_id = %q", srv.agentID)),
			Check: func(st *terraform.State) error {
				if id := st.RootModule().Resources[ctxAddr].Primary.ID; id == twin.ID {
					return fmt.Errorf("adopted the earlier twin %s", id)
				}
				if n := len(srv.Contexts()); n != 2 {
					return fmt.Errorf("%d contexts on the server, want the twin and the one created, no third", n)
				}
				return nil
			},
		}},
	})
}

func TestAccCreateDroppedBeforeItWasCarriedOut(t *testing.T) {
	srv := startServer(t, localserver.Options{Faults: localserver.Faults{DropRate: 1, Methods: []string{http.MethodPost}}})
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config:      srv.contextConfig(`title = "never made"`),
			ExpectError: regexp.MustCompile(`(?s)Error creating execution context.*No context with this configuration\s+was\s+created\s+since.*terraform\s+import`),
		}},
	})
	if n := srv.Count(http.MethodPost, localserver.ContextsRoute, -1); n != 1 {
		t.Errorf("%d creates sent, want 1: an ambiguous create is never repeated", n)
	}
}

// fastLimits lets the provider go twenty times the documented rates, as the
// server in these tests does, so 50 contexts take seconds.
const fastLimits = `  rate_limits = {
    read   = { per_minute = 2000, burst = 40 }
    create = { per_minute = 2000, burst = 20 }
    update = { per_minute = 2000, burst = 20 }
    delete = { per_minute = 1000, burst = 10 }
  }
`

func scaledLimits() *localserver.Limits {
	return &localserver.Limits{
		Read:   localserver.Rate{PerMinute: 2000, Burst: 40},
		Create: localserver.Rate{PerMinute: 2000, Burst: 20},
		Update: localserver.Rate{PerMinute: 2000, Burst: 20},
		Delete: localserver.Rate{PerMinute: 1000, Burst: 10},
	}
}

func TestAccFlakyServerApplyAndDestroyOfFifty(t *testing.T) {
	srv := startServer(t, localserver.Options{Limits: scaledLimits(), Faults: localserver.Faults{
		ErrorRate: 0.10, DropRate: 0.05, Methods: []string{http.MethodGet, http.MethodPatch, http.MethodDelete}, Seed: 7,
	}})
	provider := strings.TrimSuffix(srv.providerBlock(), "}\n") + "  max_retries = 8\n" + fastLimits + "}\n"
	config := func(title string) string {
		return provider + fmt.Sprintf("resource \"wacht_execution_context\" \"many\" {\n  count = 50\n  title = \"%s ${count.index}\"\n}\n", title)
	}
	matchesServer := func(st *terraform.State) error {
		onServer := map[string]string{}
		for _, ec := range srv.Contexts() {
			onServer[ec.ID] = ec.Title
		}
		if len(onServer) != 50 {
			return fmt.Errorf("%d contexts on the server, want 50 (no orphan, no duplicate)", len(onServer))
		}
		for addr, rs := range st.RootModule().Resources {
			if title, ok := onServer[rs.Primary.ID]; !ok || title != rs.Primary.Attributes["title"] {
				return fmt.Errorf("%s: state has %s %q, the server %q", addr, rs.Primary.ID, rs.Primary.Attributes["title"], title)
			}
		}
		return nil
	}
	srv.test(t, []resource.TestStep{
		{Config: config("flaky"), Check: matchesServer},
		{Config: config("renamed"), Check: matchesServer},
	})
	for _, status := range []int{500, 0} {
		if srv.Count(http.MethodGet, localserver.ContextRoute, status)+srv.Count(http.MethodDelete, localserver.ContextRoute, status) == 0 {
			t.Errorf("no request was answered with fault %d: the test proved nothing", status)
		}
	}
}

func TestAccRefusedKeyMidRun(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	cfg := srv.contextConfig(`title = "x"`)
	const refused = "sk_test_revoked_key_0123456789"
	srv.test(t, []resource.TestStep{
		{Config: cfg},
		{
			Config:      strings.Replace(cfg, srv.APIKey(), refused, 1),
			ExpectError: regexp.MustCompile(`(?s)Error reading execution context \d+.*HTTP 401.*The API key was refused`),
		},
		{Config: cfg, PlanOnly: true},
	})
}

// The key is a secret: it must not reach logs at the most verbose level,
// the state, plans, or error texts, whether the API takes it or refuses it.
func TestAccAPIKeyNeverLeaks(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	logs := t.TempDir()
	t.Setenv(envAPIKey, srv.APIKey())
	t.Setenv(envBaseURL, srv.URL())
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_LOG_PATH", filepath.Join(logs, "terraform.log"))
	t.Setenv("TF_ACC_LOG_PATH", filepath.Join(logs, "provider.log"))
	c := newCLI(t, "provider \"wacht\" {}\nresource \"wacht_execution_context\" \"secret\" {\n  title = \"keep it secret\"\n}\n")
	var out strings.Builder
	out.WriteString(c.must("apply", "-auto-approve", "-no-color"))
	out.WriteString(c.must("plan", "-out=tfplan", "-no-color"))
	out.WriteString(c.must("show", "-json", "tfplan"))
	out.WriteString(c.must("show", "-json"))
	srv.setStatus(t, ptr(srv.Contexts()[0].ID), "waiting_for_input")
	failed, err := c.run("destroy", "-auto-approve", "-no-color")
	if err == nil {
		t.Fatal("destroy of a context waiting for input succeeded")
	}
	out.WriteString(failed)
	wrongKey := "sk_test_wrong_" + strings.Repeat("x", 16)
	t.Setenv(envAPIKey, wrongKey) // the provider runs in this process
	refused, err := c.run("plan", "-no-color")
	if err == nil || !strings.Contains(refused, "The API key was refused") {
		t.Fatalf("plan with a wrong key: %v\n%s", err, refused)
	}
	out.WriteString(refused)
	t.Setenv(envAPIKey, srv.APIKey())
	srv.setStatus(t, ptr(srv.Contexts()[0].ID), "idle")
	c.must("destroy", "-auto-approve", "-no-color")

	texts := map[string]string{"CLI output": out.String()}
	for _, name := range []string{"terraform.log", "provider.log"} {
		b, err := os.ReadFile(filepath.Join(logs, name))
		if err != nil {
			t.Fatal(err)
		}
		texts[name] = string(b)
	}
	state, err := os.ReadFile(filepath.Join(c.dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	texts["state"] = string(state)
	if !strings.Contains(texts["provider.log"], "Wacht API request") {
		t.Fatal("the provider's requests are not in its log: the log was not captured")
	}
	for what, text := range texts {
		for _, key := range []string{srv.APIKey(), wrongKey} {
			if strings.Contains(text, key) {
				t.Errorf("the API key %s appears in the %s", key[:12]+"…", what)
			}
		}
	}
}

// Hostile input ends in a clear diagnostic before any request is sent
// anywhere but the API's own routes.
func TestAccHostileInput(t *testing.T) {
	preCheck(t) // before the subtests, whose outcome it checks
	srv := startServer(t, localserver.Options{})
	hostileIDs := []string{"1/2", "..", "../agents/1", "%2F", "1%2F..", "1 2", " 1", "-5", "1e9", strings.Repeat("9", 10240), "0x1F", "١٢٣"}
	for _, id := range hostileIDs {
		t.Run("import "+truncateName(id), func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: protoV6,
				Steps: []resource.TestStep{{
					Config: srv.contextConfig(), ResourceName: ctxAddr, ImportState: true, ImportStateId: id,
					ExpectError: regexp.MustCompile(`Invalid import id`),
				}},
			})
		})
		t.Run("agent_id "+truncateName(id), func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: protoV6,
				Steps: []resource.TestStep{{
					Config:      srv.contextConfig(fmt.Sprintf("agent_id = %q", id)),
					ExpectError: regexp.MustCompile(`(?s)Invalid Wacht id.*agent_id`),
				}},
			})
		})
	}
	for _, url := range []string{"https://user:pass@api.wacht.dev", "http://192.168.1.10:8088", "file:///etc/passwd", "https://api.wacht.dev/?redirect=x", "javascript:alert(1)"} {
		t.Run("base_url "+url, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: protoV6,
				Steps: []resource.TestStep{{
					Config:      fmt.Sprintf("provider \"wacht\" {\n  api_key  = \"k\"\n  base_url = %q\n}\nresource \"wacht_execution_context\" \"x\" {}\n", url),
					ExpectError: regexp.MustCompile(`(?s)Invalid Wacht base URL.*base_url`),
				}},
			})
		})
	}
	for rs, n := range srv.Requests() {
		t.Errorf("%d requests reached %s %s (status %d): want none", n, rs.Method, rs.Route, rs.Status)
	}
}

func truncateName(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}
