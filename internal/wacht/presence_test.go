package wacht

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

const (
	notFoundJSON = `{"errors":[{"message":"Not Found","code":404}]}`
	contextID    = "7210948357125083136" // contextJSON's id, of deployment 42
)

// everything404 is a host, or a backend without the routes, that answers
// every path with the newer backends' JSON 404.
func everything404(int, *http.Request) (int, http.Header, string) { return 404, nil, notFoundJSON }

func TestA404FromAMissingAPIIsNoProofOfAbsence(t *testing.T) {
	for name, list := range map[string]func(int, *http.Request) (int, http.Header, string){
		"list route answers 404": everything404,
		"list route answers a web page": func(int, *http.Request) (int, http.Header, string) {
			return 200, nil, "<html><body>Welcome to nginx</body></html>"
		},
		"list route answers JSON that is no list": func(int, *http.Request) (int, http.Header, string) { return 200, nil, `{}` },
	} {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{answer: func(n int, r *http.Request) (int, http.Header, string) {
				if r.URL.Path == contextsPath {
					return list(n, r)
				}
				return 404, nil, notFoundJSON
			}}
			c := newProbingClient(t, rec, nil)
			calls := map[string]func() error{
				"GET":    func() error { _, err := c.GetExecutionContext(context.Background(), "5"); return err },
				"DELETE": func() error { return c.DeleteExecutionContext(context.Background(), "5") },
				"PATCH": func() error {
					_, err := c.UpdateExecutionContext(context.Background(), "5", UpdateExecutionContextInput{})
					return err
				},
				"cancel": func() error { return c.CancelExecutionContext(context.Background(), "5") },
			}
			for call, f := range calls {
				err := f()
				if errors.Is(err, ErrNotFound) || !errors.Is(err, ErrAPIMissing) {
					t.Fatalf("%s: err = %v, want ErrAPIMissing and not ErrNotFound", call, err)
				}
				for _, want := range []string{rec.requests[0].Host, "/ai/execution-contexts", "base URL is wrong"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: %q does not name %q", call, err, want)
					}
				}
			}
			if got := rec.countOf("GET") - 1; got != 1 {
				t.Errorf("the list route was read %d times, want once per client", got)
			}
		})
	}
}

func TestA404IsNotFoundOnceTheAPIHasAnswered(t *testing.T) {
	rec := &recorder{answer: apiThere(everything404)}
	c := newProbingClient(t, rec, nil)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() { errs[i] = c.DeleteExecutionContext(context.Background(), fmt.Sprint(i+1)) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete %d: err = %v, want ErrNotFound", i+1, err)
		}
	}
	// Each delete's 404 is confirmed by the context's own GET.
	if got := rec.countOf("GET") - len(errs); got != 1 {
		t.Errorf("%d reads of the list route for 20 concurrent 404s, want 1", got)
	}
}

func TestAListRead404IsAnErrorNeverAnEmptyList(t *testing.T) {
	rec := &recorder{answer: everything404}
	c := newProbingClient(t, rec, nil)
	var yielded int
	var walkErr error
	for ec, err := range c.ExecutionContexts(context.Background(), WalkInput{AgentID: "9"}) {
		if err != nil {
			walkErr = err
			break
		}
		yielded++
		_ = ec
	}
	if yielded != 0 || !errors.Is(walkErr, ErrAPIMissing) {
		t.Fatalf("walk yielded %d contexts and %v, want ErrAPIMissing", yielded, walkErr)
	}
}

func TestAFailedPresenceCheckProvesNothingAndIsTriedAgain(t *testing.T) {
	listDown := true
	rec := &recorder{answer: func(_ int, r *http.Request) (int, http.Header, string) {
		if r.URL.Path == contextsPath && listDown {
			return 500, nil, `{"errors":[{"message":"Something went wrong","code":500}]}`
		}
		if r.URL.Path == contextsPath {
			return 200, nil, emptyList
		}
		return 404, nil, notFoundJSON
	}}
	c := newProbingClient(t, rec, func(cfg *Config) { cfg.MaxRetries = 0 })
	err := c.DeleteExecutionContext(context.Background(), "5")
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrAPIMissing) || !strings.Contains(err.Error(), "Something went wrong") {
		t.Fatalf("err = %v, want the check's own failure, neither not found nor missing", err)
	}
	listDown = false
	if err := c.DeleteExecutionContext(context.Background(), "5"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the API answered: err = %v, want ErrNotFound", err)
	}
}

func TestRouteFamiliesAreJudgedApart(t *testing.T) {
	// A backend with the agent routes but no execution-context routes.
	rec := &recorder{answer: func(_ int, r *http.Request) (int, http.Header, string) {
		if r.URL.Path == agentsPath {
			return 200, nil, emptyList
		}
		return 404, nil, notFoundJSON
	}}
	c := newProbingClient(t, rec, nil)
	if _, err := c.GetAgent(context.Background(), "5"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetAgent: err = %v, want ErrNotFound", err)
	}
	if _, err := c.GetExecutionContext(context.Background(), "5"); !errors.Is(err, ErrAPIMissing) {
		t.Errorf("GetExecutionContext: err = %v, want ErrAPIMissing", err)
	}
}

func TestAnAnswerForAnotherObjectIsAnError(t *testing.T) {
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return 200, nil, `{}` }}
	c := newProbingClient(t, rec, nil)
	if _, err := c.GetExecutionContext(context.Background(), "5"); err == nil || !strings.Contains(err.Error(), "not 5") {
		t.Errorf("GET answered {}: err = %v, want an error naming the id asked for", err)
	}
	if _, err := c.GetAgent(context.Background(), "5"); err == nil || !strings.Contains(err.Error(), "not 5") {
		t.Errorf("GetAgent answered {}: err = %v, want an error naming the id asked for", err)
	}
}

func TestGoneNeedsTheKeyOfTheRecordedDeployment(t *testing.T) {
	notFound := func(c *Client) error { return c.DeleteExecutionContext(context.Background(), "5") }
	listing := func(items string) *recorder {
		return &recorder{answer: func(_ int, r *http.Request) (int, http.Header, string) {
			if r.URL.Path == contextsPath || r.URL.Path == agentsPath {
				return 200, nil, `{"data":[` + items + `],"has_more":false,"limit":1,"offset":0}`
			}
			return 404, nil, notFoundJSON
		}}
	}
	t.Run("same deployment", func(t *testing.T) {
		c := newProbingClient(t, listing(contextJSON), nil)
		gone, err := c.Gone(context.Background(), notFound(c), "5", "42")
		if !gone || err != nil {
			t.Errorf("Gone = %v, %v; want true", gone, err)
		}
	})
	t.Run("another deployment", func(t *testing.T) {
		c := newProbingClient(t, listing(contextJSON), nil)
		gone, err := c.Gone(context.Background(), notFound(c), "5", "77")
		if gone || !errors.Is(err, ErrWrongDeployment) || !strings.Contains(err.Error(), "42") || !strings.Contains(err.Error(), "77") {
			t.Errorf("Gone = %v, %v; want a deployment error naming 42 and 77", gone, err)
		}
	})
	t.Run("a deployment that shows nothing", func(t *testing.T) {
		c := newProbingClient(t, listing(""), nil)
		gone, err := c.Gone(context.Background(), notFound(c), "5", "77")
		if gone || !errors.Is(err, ErrWrongDeployment) || !strings.Contains(err.Error(), "cannot be told") {
			t.Errorf("Gone = %v, %v; want an error saying the key's deployment cannot be told", gone, err)
		}
	})
	t.Run("nothing recorded", func(t *testing.T) {
		c := newProbingClient(t, listing(""), nil)
		if gone, err := c.Gone(context.Background(), notFound(c), "5", ""); !gone || err != nil {
			t.Errorf("Gone = %v, %v; want true", gone, err)
		}
	})
	t.Run("not a 404", func(t *testing.T) {
		c := newProbingClient(t, listing(""), nil)
		in := errors.New("boom")
		if gone, err := c.Gone(context.Background(), in, "5", "42"); gone || err != in {
			t.Errorf("Gone = %v, %v; want the error back", gone, err)
		}
	})
}

func TestAPinnedDeploymentRefusesOthersBeforeWriting(t *testing.T) {
	rec := &recorder{answer: func(_ int, r *http.Request) (int, http.Header, string) {
		if r.URL.Path == contextsPath && r.Method == http.MethodGet {
			return 200, nil, `{"data":[` + contextJSON + `],"has_more":false,"limit":1,"offset":0}`
		}
		return 200, nil, contextJSON
	}}
	c := newProbingClient(t, rec, func(cfg *Config) { cfg.DeploymentID = "77" })
	if _, err := c.GetExecutionContext(context.Background(), contextID); !errors.Is(err, ErrWrongDeployment) {
		t.Errorf("GET: err = %v, want ErrWrongDeployment", err)
	}
	for name, write := range map[string]func() error{
		"DELETE": func() error { return c.DeleteExecutionContext(context.Background(), contextID) },
		"PATCH": func() error {
			_, err := c.UpdateExecutionContext(context.Background(), contextID, UpdateExecutionContextInput{})
			return err
		},
		"cancel": func() error { return c.CancelExecutionContext(context.Background(), contextID) },
		"POST": func() error {
			_, err := c.CreateExecutionContext(context.Background(), CreateExecutionContextInput{})
			return err
		},
	} {
		if err := write(); !errors.Is(err, ErrWrongDeployment) || !strings.Contains(err.Error(), "42") {
			t.Errorf("%s: err = %v, want ErrWrongDeployment naming the key's deployment 42", name, err)
		}
	}
	for _, r := range rec.requests {
		if r.Method != http.MethodGet {
			t.Errorf("%s %s reached the server of another deployment", r.Method, r.URL.Path)
		}
	}
}

func TestNoWriteIsSentWhereTheAPIDoesNotAnswer(t *testing.T) {
	for name, body := range map[string]string{"{}": `{}`, "a web page": "<html>ok</html>"} {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return 200, nil, body }}
			c := newProbingClient(t, rec, nil)
			for call, write := range map[string]func() error{
				"DELETE": func() error { return c.DeleteExecutionContext(context.Background(), "5") },
				"POST": func() error {
					_, err := c.CreateExecutionContext(context.Background(), CreateExecutionContextInput{})
					return err
				},
				"PATCH": func() error {
					_, err := c.UpdateExecutionContext(context.Background(), "5", UpdateExecutionContextInput{})
					return err
				},
				"cancel": func() error { return c.CancelExecutionContext(context.Background(), "5") },
			} {
				if err := write(); !errors.Is(err, ErrAPIMissing) {
					t.Errorf("%s: err = %v, want ErrAPIMissing", call, err)
				}
			}
			for _, r := range rec.requests {
				if r.Method != http.MethodGet {
					t.Errorf("%s %s was sent to a host that is not the API", r.Method, r.URL.Path)
				}
			}
		})
	}
}

func TestAnswersThatAreNotTheAPIsAreErrors(t *testing.T) {
	rec := &recorder{answer: apiThere(func(_ int, r *http.Request) (int, http.Header, string) {
		if r.Method == http.MethodDelete {
			return 200, nil, "<html>deleted, honest</html>"
		}
		return 200, nil, `{}`
	})}
	c := newProbingClient(t, rec, nil)
	if err := c.DeleteExecutionContext(context.Background(), "5"); err == nil || !strings.Contains(err.Error(), "base URL") {
		t.Errorf("DELETE answered with a web page: err = %v, want an error pointing at the base URL", err)
	}
	if ec, err := c.CreateExecutionContext(context.Background(), CreateExecutionContextInput{}); err == nil || ec != nil {
		t.Errorf("POST answered {}: %v, %v; want an error and no context", ec, err)
	}
	for _, body := range []string{"", "{}", " \n"} {
		rec.answer = apiThere(func(int, *http.Request) (int, http.Header, string) { return 200, nil, body })
		if err := c.DeleteExecutionContext(context.Background(), "5"); err != nil {
			t.Errorf("DELETE answered %q: %v, want success", body, err)
		}
	}
}

func TestAPinVouchesForAKeyWhoseDeploymentShowsNothing(t *testing.T) {
	rec := &recorder{answer: apiThere(everything404)}
	c := newProbingClient(t, rec, func(cfg *Config) { cfg.DeploymentID = "333" })
	gone, err := c.Gone(context.Background(), c.DeleteExecutionContext(context.Background(), "5"), "5", "333")
	if !gone || err != nil {
		t.Errorf("Gone = %v, %v; want true: the pin names the recorded deployment", gone, err)
	}
	gone, err = c.Gone(context.Background(), c.DeleteExecutionContext(context.Background(), "5"), "5", "444")
	if gone || !errors.Is(err, ErrWrongDeployment) {
		t.Errorf("recorded under 444: Gone = %v, %v; want a deployment error", gone, err)
	}
}
