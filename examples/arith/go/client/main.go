// The client from Go's net/rpc documentation, over JSON-RPC (net/rpc/jsonrpc, standard library
// only), calling the Petrel Arith example.
//
//	go run examples/arith/go/client/main.go [HOST:PORT]   (default 127.0.0.1:8080)
package main

import (
	"fmt"
	"net/rpc/jsonrpc"
	"os"
)

// Args and Quotient are the types of Go's net/rpc example; their field names are the JSON names.
type Args struct{ A, B int }
type Quotient struct{ Quo, Rem int }

func main() {
	addr := "127.0.0.1:8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	client, err := jsonrpc.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	defer client.Close()

	var product int
	if err := client.Call("Arith.Multiply", &Args{7, 6}, &product); err != nil {
		fmt.Fprintln(os.Stderr, "Arith.Multiply:", err)
		os.Exit(1)
	}
	fmt.Printf("Arith.Multiply(7, 6) = %d\n", product)

	var q Quotient
	if err := client.Call("Arith.Divide", &Args{17, 5}, &q); err != nil {
		fmt.Fprintln(os.Stderr, "Arith.Divide:", err)
		os.Exit(1)
	}
	fmt.Printf("Arith.Divide(17, 5) = %d rem %d\n", q.Quo, q.Rem)

	// Divide by zero: the server's error reaches Go as an rpc.ServerError.
	if err := client.Call("Arith.Divide", &Args{1, 0}, &q); err != nil {
		fmt.Printf("Arith.Divide(1, 0) error: %v\n", err)
	} else {
		fmt.Fprintln(os.Stderr, "Arith.Divide(1, 0): no error")
		os.Exit(1)
	}
}
