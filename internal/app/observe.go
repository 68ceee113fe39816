package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/metrics"
)

// maxLoggedPath bounds the path in the access log.
const maxLoggedPath = 512

// observe is the HTTP middleware around the API: one access log line per
// request and the request metrics. The line holds the method, the path
// (never the query string, which can carry invite and reset tokens), the
// route pattern that matched, the status, the duration, the client
// address and, when the request was authenticated, the username; never a
// header or a body, so neither tokens nor passwords. Requests answered
// with a 5xx status are logged at warning level.
func observe(log *slog.Logger, m *metrics.Metrics, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		done := m.RequestStarted()
		r, info := api.WithRequestInfo(r)
		sw := &statusWriter{ResponseWriter: w}
		finished := false
		defer func() {
			done()
			status := sw.status
			switch {
			case !finished: // the handler panicked; net/http logs the panic
				status = http.StatusInternalServerError
			case status == 0: // nothing written: net/http answers 200
				status = http.StatusOK
			}
			d := time.Since(start)
			if info.Route != "GET /metrics" {
				m.ObserveRequest(r.Method, info.Route, status, d)
			}
			path := r.URL.Path
			if len(path) > maxLoggedPath {
				path = path[:maxLoggedPath] + "..."
			}
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", path),
				slog.String("route", info.Route),
				slog.Int("status", status),
				slog.Float64("ms", float64(d.Microseconds())/1000),
				slog.String("client", api.ClientAddr(r)),
				slog.Int64("bytes", sw.bytes),
			}
			if info.User != "" {
				attrs = append(attrs, slog.String("user", info.User))
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelWarn
			}
			log.LogAttrs(r.Context(), level, "request", attrs...)
		}()
		h.ServeHTTP(sw, r)
		finished = true
	})
}

// statusWriter records the status and size of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap gives http.ResponseController the underlying writer (flushes).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
