package localserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// apiError is a handler error, answered in the JSON error shape.
type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, message: fmt.Sprintf(format, args...)}
}

var (
	errContextNotFound = errorf(http.StatusNotFound, "Execution context not found")
	errAgentNotFound   = errorf(http.StatusNotFound, "Agent not found")
	errContextInUse    = errorf(http.StatusConflict, "context in use")
	errInternal        = errorf(http.StatusInternalServerError, "Something went wrong")
	errUnavailable     = errorf(http.StatusServiceUnavailable, "Service Unavailable")
	errBadGateway      = errorf(http.StatusBadGateway, "Bad Gateway")
)

// response is a fully prepared answer. Handlers' results are turned into one
// before anything is written, so that the request can be counted first and a
// fault can still drop the connection instead. Status 0 means: answer nothing.
type response struct {
	status      int
	contentType string
	header      http.Header // extra headers
	body        []byte
}

// noAnswer drops the connection.
var noAnswer = response{}

func textResponse(status int, body string) response {
	return response{status: status, contentType: "text/plain; charset=utf-8", body: []byte(body)}
}

func jsonResponse(status int, v any) response {
	body, err := json.Marshal(v)
	if err != nil {
		return errorResponse(errInternal)
	}
	return response{status: status, contentType: "application/json", body: body}
}

type errorBody struct {
	Errors []errorItem `json:"errors"`
}

type errorItem struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}

func errorResponse(err error) response {
	var e *apiError
	if !errors.As(err, &e) {
		e = errInternal
	}
	body, _ := json.Marshal(errorBody{Errors: []errorItem{{Message: e.message, Code: e.status}}})
	return response{status: e.status, contentType: "application/json", body: body}
}

func (resp response) write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	h.Set("Content-Type", resp.contentType)
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// decodeBody reads a JSON object request body into dst: 415 without a JSON
// content type, 400 for malformed JSON, 422 for a shape mismatch. Unknown
// fields are ignored. Bodies beyond maxBodyBytes were cut, hence malformed.
func decodeBody(r *http.Request, dst any) error {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, "Expected request with `Content-Type: application/json`")
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return errorf(http.StatusBadRequest, "Failed to read the request body")
	}
	return decodeObject(data, dst)
}

// decodeObject decodes data, which must be a JSON object, into dst.
func decodeObject(data []byte, dst any) error {
	if !json.Valid(data) {
		return errorf(http.StatusBadRequest, "Failed to parse the request body as JSON")
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' {
		return errorf(http.StatusUnprocessableEntity, "expected a JSON object")
	}
	if err := json.Unmarshal(data, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return errorf(http.StatusUnprocessableEntity, "%s: invalid type %s, expected %s",
				typeErr.Field, typeErr.Value, strings.TrimPrefix(typeErr.Type.String(), "*"))
		}
		return errorf(http.StatusUnprocessableEntity, "%v", err)
	}
	return nil
}
