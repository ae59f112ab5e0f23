// Command gateway forwards webhooks of a provider to workflow-runtime: each POST /in/{workflow}
// triggers the workflow with the body as trigger data and the provider's delivery id as the
// idempotency key, so that the provider's retries run the workflow once.
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	"connectrpc.com/connect"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	runtime "github.com/workflow-runtime/workflow-runtime/sdk/go"
)

func main() {
	client, err := runtime.NewClient(os.Getenv("RUNTIME_URL"), runtime.WithToken(os.Getenv("RUNTIME_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("POST /in/{workflow}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		res, err := client.TriggerWorkflow(r.Context(), &v1.TriggerWorkflowRequest{
			Target:         &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: r.PathValue("workflow")},
			TriggerData:    string(body),
			IdempotencyKey: r.Header.Get("X-Delivery-Id"),
		})
		var rerr *runtime.Error
		switch {
		case errors.As(err, &rerr) && rerr.Code == connect.CodeInvalidArgument:
			w.WriteHeader(http.StatusBadRequest)
			for _, v := range rerr.FieldViolations {
				fmt.Fprintf(w, "%s: %s [%s]\n", v.Field, v.Message, v.Rule)
			}
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, res.GetExecution().GetId())
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8090", nil))
}
