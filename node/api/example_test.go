package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/api"
	"github.com/svc-dht/svc-dht/wire"
)

// emptyNode is a Backend that knows no providers.
type emptyNode struct{ api.Backend }

func (emptyNode) FindProviders(context.Context, kbucket.ID) (api.ProvidersResult, error) {
	return api.ProvidersResult{}, wire.NewError(wire.CodeNotFound, "no providers")
}

func ExampleClient() {
	srv := httptest.NewServer(api.Handler(emptyNode{}, api.Options{}))
	defer srv.Close()

	c, err := api.NewClient(srv.URL, 5*time.Second)
	if err != nil {
		panic(err)
	}
	var key kbucket.ID
	_, err = c.FindProviders(context.Background(), key)
	var ae *api.APIError
	if errors.As(err, &ae) {
		fmt.Println(ae.Status, int(ae.Code), ae.Name, errors.Is(err, wire.ErrNotFound))
	}
	// Output: 404 1404 NotFound true
}
