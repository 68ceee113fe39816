package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/kernelci/kernelci-api-go/client"
)

// exampleServer starts an API server on an empty store with a superuser
// admin (password adminPassword) and returns its base URL, a client
// logged in as the admin and a stop function. Real programs point the
// client at their server instead.
func exampleServer() (string, *client.Client, func()) {
	dir, err := os.MkdirTemp("", "kci-client-example-")
	if err != nil {
		log.Fatal(err)
	}
	base, _, stop, err := startAPI(dir, "example")
	if err != nil {
		log.Fatal(err)
	}
	c, err := login(context.Background(), base)
	if err != nil {
		log.Fatal(err)
	}
	return base, c, func() { stop(); os.RemoveAll(dir) }
}

// A pipeline service: log in once, make a scoped API token, and work with
// it from then on.
func Example() {
	base, _, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c := client.New(base, "")
	login, err := c.Login(ctx, "admin", adminPassword)
	if err != nil {
		log.Fatal(err)
	}
	c.Token = login.AccessToken
	tok, err := c.CreateToken(ctx, client.APITokenRequest{Name: "lab", Scopes: []string{"node:write:lava-lab", "pubsub"}})
	if err != nil {
		log.Fatal(err)
	}
	lab := client.New(base, tok.Token)

	checkout, err := lab.CreateNode(ctx, &client.Node{Kind: "job", Name: "baseline-x86", Path: []string{"checkout", "baseline-x86"},
		Data: map[string]any{"runtime": "lava-lab"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(checkout.Name, checkout.State, *checkout.Owner)

	n, err := lab.CountNodes(ctx, client.Where().Eq("kind", "job").Eq("data.runtime", "lava-lab"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("jobs:", n)
	// Output:
	// baseline-x86 running admin
	// jobs: 1
}

func ExampleWhere() {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	q := client.Where().
		Eq("kind", "kbuild").
		Eq("data.kernel_revision.tree", "mainline").
		Gt("created", since).
		Re("name", "x86").
		In("state", "done", "available").
		Null("result").
		Limit(100)
	fmt.Println(q)
	// Output:
	// created__gt=2026-01-02T03%3A04%3A05.000000&data.kernel_revision.tree=mainline&kind=kbuild&limit=100&name__re=x86&result=null&state__in=done%2Cavailable
}

// Listening to node events, as a pipeline service does.
func ExampleClient_NextEvent() {
	_, c, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	sub, err := c.Subscribe(ctx, "node", client.SubscribeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Unsubscribe(ctx, sub.ID)
	n, err := c.CreateNode(ctx, &client.Node{Kind: "checkout", Name: "checkout", Path: []string{"checkout"}})
	if err != nil {
		log.Fatal(err)
	}
	n.State = client.StateAvailable
	if _, err := c.UpdateNode(ctx, n, false); err != nil {
		log.Fatal(err)
	}
	for range 2 {
		ev, err := c.NextEvent(ctx, sub.ID)
		if err != nil {
			log.Fatal(err)
		}
		data := ev.Data.(map[string]any)
		fmt.Println(data["op"], data["name"], data["state"])
	}
	// Output:
	// created checkout running
	// updated checkout available
}

// A scoped token is refused outside its scopes: the error carries the
// status and the server's detail.
func ExampleAPIError() {
	base, c, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	tok, err := c.CreateToken(ctx, client.APITokenRequest{Name: "dashboard", Scopes: []string{"read"}})
	if err != nil {
		log.Fatal(err)
	}
	ro := client.New(base, tok.Token)
	_, err = ro.CreateNode(ctx, &client.Node{Kind: "checkout", Name: "checkout", Path: []string{"checkout"}})
	var ae *client.APIError
	if errors.As(err, &ae) {
		fmt.Println(ae.Status)
		fmt.Println(ae.Message())
	}
	if err := c.RevokeToken(ctx, tok.ID); err != nil {
		log.Fatal(err)
	}
	_, err = ro.Whoami(ctx)
	fmt.Println(client.StatusOf(err))
	// Output:
	// 403
	// This API token does not allow POST /node: it needs the scope node:write (it has read)
	// 401
}

// Follow node events as Server-Sent Events; after a dropped connection,
// open the stream again from the last id read, and nothing is lost.
func ExampleClient_Stream() {
	_, c, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	s, err := c.Stream(ctx, client.StreamOptions{}) // the node channel, from now on
	if err != nil {
		log.Fatal(err)
	}
	n, err := c.CreateNode(ctx, &client.Node{Kind: "checkout", Name: "checkout", Path: []string{"checkout"}})
	if err != nil {
		log.Fatal(err)
	}
	ev, err := s.Next()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.Data.(map[string]any)["op"])
	s.Close() // as if the connection dropped

	n.State = client.StateDone
	if _, err := c.UpdateNode(ctx, n, false); err != nil {
		log.Fatal(err)
	}
	s, err = c.Stream(ctx, client.StreamOptions{Resume: true, LastID: s.LastID})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ev, err = s.Next()
	if err != nil {
		log.Fatal(err)
	}
	data := ev.Data.(map[string]any)
	fmt.Println(data["op"], data["state"])
	// Output:
	// created
	// updated done
}
