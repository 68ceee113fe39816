package transfer

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress reports how far an export or import is, on a terminal as a
// bar redrawn in place, elsewhere (a log file, CI) as a plain line every
// few seconds and one per finished collection. A nil *Progress reports
// nothing.
type Progress struct {
	w     io.Writer
	tty   bool
	verb  string // "export", "import"
	every time.Duration
	now   func() time.Time

	mu        sync.Mutex
	total     int64 // estimate; 0 when unknown
	done      int64
	coll      string // collection being moved
	collDone  int64
	start     time.Time
	lastDraw  time.Time
	drawn     bool // a bar is on the current line
	lineWidth int
}

// NewProgress reports to w: redrawn in place when tty, else a line every
// 5 seconds. verb names the operation in the lines ("export").
func NewProgress(w io.Writer, tty bool, verb string) *Progress {
	return &Progress{w: w, tty: tty, verb: verb, every: 5 * time.Second, now: time.Now}
}

// begin starts the report with an estimated total of records.
func (p *Progress) begin(total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.start, p.lastDraw = total, p.now(), p.now()
	if !p.tty {
		fmt.Fprintf(p.w, "%s: %s records to move\n", p.verb, count(total))
	}
}

// collection says that records of coll come next.
func (p *Progress) collection(coll string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
	p.coll, p.collDone = coll, 0
}

// add counts n more records.
func (p *Progress) add(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.collDone += n
	now := p.now()
	switch {
	case p.tty && now.Sub(p.lastDraw) >= 100*time.Millisecond:
		p.drawLocked(now)
	case !p.tty && now.Sub(p.lastDraw) >= p.every:
		p.lastDraw = now
		fmt.Fprintf(p.w, "%s: %s: %s records; %s\n", p.verb, p.coll, count(p.collDone), p.overallLocked(now))
	}
}

// finishLocked ends the line of the current collection.
func (p *Progress) finishLocked() {
	if p.coll == "" {
		return
	}
	if p.tty {
		p.clearLocked()
	}
	fmt.Fprintf(p.w, "%s: %-16s %12s records\n", p.verb, p.coll, count(p.collDone))
	p.coll = ""
}

// end finishes the report.
func (p *Progress) end() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
	el := p.now().Sub(p.start).Round(time.Millisecond)
	fmt.Fprintf(p.w, "%s: %s records in %s\n", p.verb, count(p.done), el)
}

// overallLocked is "12,345/27,000 (45%), 1,234/s".
func (p *Progress) overallLocked(now time.Time) string {
	s := count(p.done)
	if p.total > 0 {
		s += fmt.Sprintf("/%s (%d%%)", count(p.total), min(100, p.done*100/p.total))
	}
	if el := now.Sub(p.start).Seconds(); el > 0.5 {
		s += fmt.Sprintf(", %s/s", count(int64(float64(p.done)/el)))
	}
	return s
}

func (p *Progress) drawLocked(now time.Time) {
	p.lastDraw = now
	const width = 30
	bar := strings.Repeat(" ", width)
	if p.total > 0 {
		fill := int(min(p.done, p.total) * width / p.total)
		bar = strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
		if fill < width {
			bar = bar[:fill] + ">" + bar[fill+1:]
		}
	}
	line := fmt.Sprintf("%s [%s] %-16s %s", p.verb, bar, p.coll, p.overallLocked(now))
	pad := ""
	if len(line) < p.lineWidth {
		pad = strings.Repeat(" ", p.lineWidth-len(line))
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.lineWidth, p.drawn = len(line), true
}

func (p *Progress) clearLocked() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.lineWidth))
		p.drawn, p.lineWidth = false, 0
	}
}

// count formats n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
