// A Go net/rpc client (standard library only) that calls Arith on a Petrel server and prints one
// JSON object with what it got, for packages/node/src/{jsonrpc,netrpc-gob}-go.test.ts.
// Usage: go-client -codec=gob|json HOST:PORT
// -codec=gob uses rpc.Dial (net/rpc's default gob codec), -codec=json jsonrpc.Dial (JSON-RPC 1.0).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
)

type Args struct{ A, B int }
type Quotient struct{ Quo, Rem int }

type rpcCall struct {
	call  *rpc.Call
	reply int
}

func dial(codec, addr string) (*rpc.Client, error) {
	switch codec {
	case "gob":
		return rpc.Dial("tcp", addr)
	case "json":
		return jsonrpc.Dial("tcp", addr)
	}
	return nil, fmt.Errorf("unknown -codec %q (want gob or json)", codec)
}

func main() {
	codec := flag.String("codec", "gob", "wire codec: gob or json")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: go-client -codec=gob|json HOST:PORT")
		os.Exit(2)
	}
	client, err := dial(*codec, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	defer client.Close()
	out := map[string]interface{}{}

	var product int
	if err := client.Call("Arith.Multiply", &Args{7, 6}, &product); err != nil {
		out["multiplyError"] = err.Error()
	} else {
		out["multiply"] = product
	}
	var q Quotient
	if err := client.Call("Arith.Divide", &Args{17, 5}, &q); err != nil {
		out["divideError"] = err.Error()
	} else {
		out["divide"] = q
	}
	var q0 Quotient
	if err := client.Call("Arith.Divide", Args{1, 0}, &q0); err != nil {
		out["divZeroError"] = err.Error()
	}
	var none int
	if err := client.Call("Arith.Nope", Args{}, &none); err != nil {
		out["unknownError"] = err.Error()
	}
	// Concurrent calls on one connection: replies may come back in any order; Seq (gob) or ids
	// (JSON) match them.
	calls := make([]*rpcCall, 20)
	for i := range calls {
		c := &rpcCall{}
		c.call = client.Go("Arith.Multiply", Args{i, i}, &c.reply, nil)
		calls[i] = c
	}
	squares := make([]int, len(calls))
	for i, c := range calls {
		<-c.call.Done
		if c.call.Error != nil {
			squares[i] = -1
		} else {
			squares[i] = c.reply
		}
	}
	out["squares"] = squares
	json.NewEncoder(os.Stdout).Encode(out)
}
