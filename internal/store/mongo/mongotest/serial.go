package mongotest

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
)

// SerialProxy stands between several MongoDB clients (for instance two
// API server processes, the "replicas" of a test) and one server, and
// runs one command at a time across all of their connections.
//
// Why: FerretDB 1.x implements findAndModify and update as a find
// followed by a write, so two processes sharing one FerretDB can both
// read a counter at N and both write N+1 (handing out the same sequence
// id twice), or both pass the same compare-and-set. The store works
// around it with in-process locks (mongo.Store.seqMu and casMu), which
// cannot reach across processes. MongoDB makes every single-document
// write atomic, and that is all the store relies on with several
// replicas (counters with $inc, cursors moved with a filtered update,
// pops with findAndModify). Running each command alone gives FerretDB
// that atomicity, so multi-replica tests check the store's own design
// rather than FerretDB's gap. It is stronger than MongoDB in one way
// only: a multi-document read cannot interleave with a write; sequences
// of commands (reserve ids, then insert; read, then compare-and-set)
// still interleave across replicas exactly as they would on MongoDB.
//
// The proxy speaks the framing of the wire protocol only: each message
// starts with its int32 length; a request is forwarded and its reply
// read back while the lock is held (and further replies while they
// carry the moreToCome flag; a request carrying it has none).
type SerialProxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex // held for one command at a time

	connMu sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewSerialProxy listens on 127.0.0.1 and forwards to the server of
// uri (a mongodb:// URL with one host, such as Server.URI).
func NewSerialProxy(uri string) (*SerialProxy, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("mongotest: proxy: bad upstream %q", uri)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &SerialProxy{ln: ln, upstream: u.Host, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// URI is the proxy's mongodb:// URL (without a database name).
func (p *SerialProxy) URI() string { return "mongodb://" + p.ln.Addr().String() + "/" }

// Close stops the proxy and closes every connection.
func (p *SerialProxy) Close() {
	p.connMu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.connMu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

func (p *SerialProxy) track(c net.Conn) bool {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *SerialProxy) untrack(c net.Conn) {
	p.connMu.Lock()
	delete(p.conns, c)
	p.connMu.Unlock()
	c.Close()
}

func (p *SerialProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

const (
	opMsg      = 2013
	moreToCome = 1 << 1
)

// readMsg reads one wire-protocol message.
func readMsg(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(hdr[:]))
	if n < 16 || n > 64<<20 {
		return nil, fmt.Errorf("mongotest: proxy: bad message length %d", n)
	}
	msg := make([]byte, n)
	copy(msg, hdr[:])
	if _, err := io.ReadFull(r, msg[4:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// streams says whether a message announces another one without a reply
// in between (OP_MSG with moreToCome).
func streams(msg []byte) bool {
	return len(msg) >= 20 && binary.LittleEndian.Uint32(msg[12:16]) == opMsg &&
		binary.LittleEndian.Uint32(msg[16:20])&moreToCome != 0
}

func (p *SerialProxy) serve(c net.Conn) {
	if !p.track(c) {
		return
	}
	defer p.untrack(c)
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	if !p.track(u) {
		return
	}
	defer p.untrack(u)
	for {
		req, err := readMsg(c)
		if err != nil {
			return
		}
		replies, err := p.exchange(u, req)
		if err != nil {
			return
		}
		for _, r := range replies {
			if _, err := c.Write(r); err != nil {
				return
			}
		}
	}
}

// exchange sends one request and reads its replies, alone.
func (p *SerialProxy) exchange(u net.Conn, req []byte) ([][]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := u.Write(req); err != nil {
		return nil, err
	}
	if streams(req) {
		return nil, nil // no reply expected
	}
	var replies [][]byte
	for {
		r, err := readMsg(u)
		if err != nil {
			return nil, err
		}
		replies = append(replies, r)
		if !streams(r) {
			return replies, nil
		}
	}
}
