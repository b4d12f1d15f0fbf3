// A Go net/rpc server (standard library only) with the Arith service from the net/rpc
// documentation. Prints its port on stdout, then serves until killed.
// Usage: go-server -codec=gob|json
// -codec=gob uses rpc.ServeConn (net/rpc's default gob codec), -codec=json jsonrpc.ServeConn (JSON-RPC 1.0).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
)

type Args struct{ A, B int }
type Quotient struct{ Quo, Rem int }
type Arith int

func (t *Arith) Multiply(args *Args, reply *int) error {
	*reply = args.A * args.B
	return nil
}

func (t *Arith) Divide(args *Args, quo *Quotient) error {
	if args.B == 0 {
		return errors.New("divide by zero")
	}
	quo.Quo = args.A / args.B
	quo.Rem = args.A % args.B
	return nil
}

func main() {
	codec := flag.String("codec", "gob", "wire codec: gob or json")
	flag.Parse()
	var serveConn func(io.ReadWriteCloser)
	switch *codec {
	case "gob":
		serveConn = rpc.ServeConn
	case "json":
		serveConn = jsonrpc.ServeConn
	default:
		fmt.Fprintf(os.Stderr, "unknown -codec %q (want gob or json)\n", *codec)
		os.Exit(2)
	}
	if err := rpc.Register(new(Arith)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go serveConn(conn)
	}
}
