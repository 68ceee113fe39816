package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

var insertTelemetrySQL = "INSERT INTO telemetry (id, ts, " + strings.Join(telemetryColumns, ", ") +
	", is_infra_error, doc) VALUES (" + placeholders(len(telemetryColumns)+4) + ")"

// InsertTelemetry stores every event in one transaction.
func (s *Store) InsertTelemetry(ctx context.Context, evs []*model.TelemetryEvent) error {
	if len(evs) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertTelemetrySQL)
		if err != nil {
			return fmt.Errorf("sqlite: prepare telemetry: %w", err)
		}
		defer stmt.Close()
		for _, ev := range evs {
			if ev.ID.IsZero() {
				ev.ID = objectid.New()
			}
			if ev.Extra == nil {
				ev.Extra = map[string]any{}
			}
			doc, err := json.Marshal(ev)
			if err != nil {
				return fmt.Errorf("sqlite: encode telemetry: %w", err)
			}
			args := make([]any, 0, len(telemetryColumns)+4)
			args = append(args, ev.ID.String(), model.FormatTime(ev.Ts.Time))
			for _, c := range telemetryColumns {
				v, _ := ev.StringField(c)
				args = append(args, nullStr(v))
			}
			infra := 0
			if ev.IsInfraError {
				infra = 1
			}
			args = append(args, infra, string(doc))
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				if isUniqueViolation(err) {
					return fmt.Errorf("telemetry event %s: %w", ev.ID, store.ErrConflict)
				}
				return fmt.Errorf("sqlite: insert telemetry: %w", err)
			}
		}
		return nil
	})
}

// FindTelemetry returns matching events in insertion order.
func (s *Store) FindTelemetry(ctx context.Context, f query.Filter, p store.Page) ([]*model.TelemetryEvent, error) {
	return findDocs(ctx, s, telemetryTable, "telemetry", f, p, decodeAs[model.TelemetryEvent]("telemetry"))
}

// CountTelemetry counts matching events.
func (s *Store) CountTelemetry(ctx context.Context, f query.Filter) (int64, error) {
	return s.count(ctx, telemetryTable, f)
}

// tsLen is the length of a stored datetime, "YYYY-MM-DDTHH:MM:SS.ffffff".
const tsLen = len("2006-01-02T15:04:05.000000")

// GroupTelemetry runs one GROUP BY over the matching rows. The latest
// event of a group is found with SQLite's bare-column rule (with a single
// max() aggregate, bare columns come from the row holding the maximum),
// on ts followed by the zero-padded rowid, so that among events with the
// same ts the last inserted wins.
func (s *Store) GroupTelemetry(ctx context.Context, f query.Filter, by []string) ([]store.TelemetryGroup, error) {
	if len(by) == 0 {
		return nil, fmt.Errorf("sqlite: group telemetry: no grouping field")
	}
	for i, field := range by {
		if !slices.Contains(telemetryColumns, field) {
			return nil, fmt.Errorf("sqlite: group telemetry: cannot group by %q", field)
		}
		if slices.Contains(by[:i], field) {
			return nil, fmt.Errorf("sqlite: group telemetry: %q given twice", field)
		}
	}
	where, args, err := compile(telemetryTable, f)
	if err != nil {
		return nil, err
	}
	// Grouping on +col (a no-op on every value) keeps the planner from
	// walking a (runtime, ...) index in group order over the whole table
	// when the filter has a selective index of its own (ts, kind+ts).
	cols := "+" + strings.Join(by, ", +")
	q := "SELECT " + cols + `, count(*),
		count(CASE WHEN result = 'pass' THEN 1 END),
		count(CASE WHEN result = 'fail' THEN 1 END),
		count(CASE WHEN result = 'incomplete' THEN 1 END),
		count(CASE WHEN result = 'skip' THEN 1 END),
		count(CASE WHEN is_infra_error THEN 1 END),
		max(ts || printf('%020d', rid)), error_type, json_extract(doc, '$.error_msg')
		FROM telemetry WHERE ` + where + " GROUP BY " + cols
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: group telemetry: %w", err)
	}
	defer rows.Close()
	out := []store.TelemetryGroup{}
	for rows.Next() {
		g := store.TelemetryGroup{Key: make([]*string, len(by))}
		keys := make([]sql.NullString, len(by))
		var latest string
		var errType, errMsg sql.NullString
		dst := make([]any, 0, len(by)+9)
		for i := range keys {
			dst = append(dst, &keys[i])
		}
		dst = append(dst, &g.Total, &g.Pass, &g.Fail, &g.Incomplete, &g.Skip, &g.InfraError, &latest, &errType, &errMsg)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("sqlite: scan telemetry group: %w", err)
		}
		for i, k := range keys {
			if k.Valid {
				g.Key[i] = model.Str(k.String)
			}
		}
		if len(latest) < tsLen {
			return nil, fmt.Errorf("sqlite: telemetry group: bad latest key %q", latest)
		}
		if g.LastSeen, err = time.Parse("2006-01-02T15:04:05.000000", latest[:tsLen]); err != nil {
			return nil, fmt.Errorf("sqlite: telemetry group: %w", err)
		}
		if errType.Valid {
			g.LatestErrorType = model.Str(errType.String)
		}
		if errMsg.Valid {
			g.LatestErrorMsg = model.Str(errMsg.String)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: group telemetry: %w", err)
	}
	return out, nil
}

// DeleteTelemetryBefore deletes up to limit of the oldest events with ts
// before t, through the ts index.
func (s *Store) DeleteTelemetryBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	if limit <= 0 {
		limit = -1
	}
	res, err := s.w.ExecContext(ctx,
		`DELETE FROM telemetry WHERE rid IN (SELECT rid FROM telemetry WHERE ts < ? ORDER BY ts LIMIT ?)`,
		model.FormatTime(t), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete telemetry: %w", err)
	}
	return res.RowsAffected()
}
