package app

import (
	"net"
	"testing"
)

func TestMaxConnectionsHoldsAcceptUntilOneCloses(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitListener(raw, 1).(*limitedListener)
	defer ln.Close()
	c1, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	s1, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	// The one slot is held by s1: the second Accept cannot have taken
	// the connection while it is.
	select {
	case <-accepted:
		t.Fatal("a second connection was accepted while the limit of 1 was reached")
	default:
	}
	if len(ln.sem) != 1 {
		t.Fatalf("%d slots taken, want 1", len(ln.sem))
	}
	s1.Close()
	s2, ok := <-accepted
	if !ok {
		t.Fatal("second Accept failed")
	}
	s2.Close()
	// Closing twice releases once.
	s2.Close()
	if len(ln.sem) != 0 {
		t.Fatalf("%d slots taken after both closed, want 0", len(ln.sem))
	}
}
