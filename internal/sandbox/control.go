package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
)

// control serves a control route (under /_sandbox/) whose JSON body (at
// most 64 KiB) decodes into In: a body that does not decode, or that valid
// refuses, is answered 400 with refusal; otherwise run's answer is written
// with 200, or its error through fail. Every simulator's controls are made
// with it, so they all read, refuse and answer alike.
func control[In any](valid func(In) bool, refusal any, run func(r *http.Request, in In) (any, error),
	fail func(http.ResponseWriter, error)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		var in In
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil || (valid != nil && !valid(in)) {
			writeJSON(rw, http.StatusBadRequest, refusal)
			return
		}
		out, err := run(r, in)
		if err != nil {
			fail(rw, err)
			return
		}
		writeJSON(rw, http.StatusOK, out)
	}
}

// usage is the refusal of a control body: {"error": what the body must be}.
func usage(msg string) map[string]string { return map[string]string{"error": msg} }

// failWith answers a control's error as {"error": ...} with status.
func failWith(status int) func(http.ResponseWriter, error) {
	return func(rw http.ResponseWriter, err error) { writeJSON(rw, status, usage(err.Error())) }
}
