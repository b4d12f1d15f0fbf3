// A gRPC interop test server on grpc-go (Debian's 1.33), following grpc/grpc
// doc/interop-test-descriptions.md, because Debian's grpc-go ships no interop programs.
//
//	server --port=P [--use_tls=false]
//
// Listens on 127.0.0.1 only; with --port=0 it picks a free port. Prints
// "go-interop-server: listening on 127.0.0.1:PORT" once serving, and stops gracefully on SIGINT/SIGTERM.
//
// Compression, as far as grpc-go 1.33 allows:
//   - expect_compressed is checked per message with package wirestats (the call's grpc-encoding and
//     each message's wire length). grpc-go's own interop server does not check it at all.
//   - response_compressed / ResponseParameters.compressed cannot be honoured: grpc-go 1.33 has no
//     per-call or per-message switch (grpc.SetSendCompressor came in 1.54). Its server compresses
//     every response of a call exactly when the request named a registered grpc-encoding. (grpc-go's
//     own interop server ignores these fields too.) The interop suite lists the two
//     server_compressed cases as known failures of this server.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // registers gzip, to decompress requests and compress like them
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "petrel/interop/grpc_testing"
	"petrel/interop/wirestats"
)

const (
	initialMetadataKey  = "x-grpc-test-echo-initial"
	trailingMetadataKey = "x-grpc-test-echo-trailing-bin"
)

type testServer struct {
	pb.UnimplementedTestServiceServer // UnimplementedCall answers UNIMPLEMENTED
}

// echoMetadata echoes the two test headers: the initial one as a response header, the binary one as a trailer.
func echoMetadata(ctx context.Context, setHeader func(metadata.MD) error, setTrailer func(metadata.MD)) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(initialMetadataKey); len(v) > 0 {
		if err := setHeader(metadata.Pairs(initialMetadataKey, v[0])); err != nil {
			return err
		}
	}
	if v := md.Get(trailingMetadataKey); len(v) > 0 {
		setTrailer(metadata.Pairs(trailingMetadataKey, v[0]))
	}
	return nil
}

// checkExpectCompressed rejects request message i if it did not arrive the way expect_compressed says.
func checkExpectCompressed(ctx context.Context, expect *pb.BoolValue, i int) error {
	if expect == nil {
		return nil
	}
	compressed, ok := wirestats.FromContext(ctx).In(i)
	if !ok {
		return status.Errorf(codes.Internal, "no wire record of request message %d", i)
	}
	if expect.GetValue() && !compressed {
		return status.Error(codes.InvalidArgument, "expected a compressed request message, got an uncompressed one")
	}
	if !expect.GetValue() && compressed {
		return status.Error(codes.InvalidArgument, "expected an uncompressed request message, got a compressed one")
	}
	return nil
}

func echoStatus(s *pb.EchoStatus) error {
	if s == nil || s.GetCode() == 0 {
		return nil
	}
	return status.Error(codes.Code(s.GetCode()), s.GetMessage())
}

func newPayload(t pb.PayloadType, size int32) (*pb.Payload, error) {
	if size < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "negative payload size %d", size)
	}
	if t != pb.PayloadType_COMPRESSABLE {
		return nil, status.Errorf(codes.InvalidArgument, "unsupported payload type %v", t)
	}
	return &pb.Payload{Type: t, Body: make([]byte, size)}, nil
}

// sleep waits intervalUs microseconds, or until the call ends.
func sleep(ctx context.Context, intervalUs int32) error {
	if intervalUs <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(intervalUs) * time.Microsecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

type sender interface {
	Context() context.Context
	Send(*pb.StreamingOutputCallResponse) error
}

func respond(s sender, t pb.PayloadType, params []*pb.ResponseParameters) error {
	for _, p := range params {
		if err := sleep(s.Context(), p.GetIntervalUs()); err != nil {
			return err
		}
		pl, err := newPayload(t, p.GetSize())
		if err != nil {
			return err
		}
		if err := s.Send(&pb.StreamingOutputCallResponse{Payload: pl}); err != nil {
			return err
		}
	}
	return nil
}

func (testServer) EmptyCall(context.Context, *pb.Empty) (*pb.Empty, error) {
	return &pb.Empty{}, nil
}

func (testServer) UnaryCall(ctx context.Context, in *pb.SimpleRequest) (*pb.SimpleResponse, error) {
	setTrailer := func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) }
	if err := echoMetadata(ctx, func(md metadata.MD) error { return grpc.SetHeader(ctx, md) }, setTrailer); err != nil {
		return nil, err
	}
	if err := checkExpectCompressed(ctx, in.GetExpectCompressed(), 0); err != nil {
		return nil, err
	}
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	pl, err := newPayload(in.GetResponseType(), in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	return &pb.SimpleResponse{Payload: pl}, nil
}

func (s testServer) CacheableUnaryCall(ctx context.Context, in *pb.SimpleRequest) (*pb.SimpleResponse, error) {
	return s.UnaryCall(ctx, in)
}

func (testServer) StreamingOutputCall(in *pb.StreamingOutputCallRequest, stream pb.TestService_StreamingOutputCallServer) error {
	if err := echoMetadata(stream.Context(), stream.SetHeader, stream.SetTrailer); err != nil {
		return err
	}
	if err := respond(stream, in.GetResponseType(), in.GetResponseParameters()); err != nil {
		return err
	}
	return echoStatus(in.GetResponseStatus())
}

func (testServer) StreamingInputCall(stream pb.TestService_StreamingInputCallServer) error {
	if err := echoMetadata(stream.Context(), stream.SetHeader, stream.SetTrailer); err != nil {
		return err
	}
	var sum int
	for i := 0; ; i++ {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&pb.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
		}
		if err != nil {
			return err
		}
		if err := checkExpectCompressed(stream.Context(), in.GetExpectCompressed(), i); err != nil {
			return err
		}
		sum += len(in.GetPayload().GetBody())
	}
}

func (testServer) FullDuplexCall(stream pb.TestService_FullDuplexCallServer) error {
	if err := echoMetadata(stream.Context(), stream.SetHeader, stream.SetTrailer); err != nil {
		return err
	}
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := echoStatus(in.GetResponseStatus()); err != nil {
			return err
		}
		if err := respond(stream, in.GetResponseType(), in.GetResponseParameters()); err != nil {
			return err
		}
	}
}

func (testServer) HalfDuplexCall(stream pb.TestService_HalfDuplexCallServer) error {
	if err := echoMetadata(stream.Context(), stream.SetHeader, stream.SetTrailer); err != nil {
		return err
	}
	var all []*pb.StreamingOutputCallRequest
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		all = append(all, in)
	}
	for _, in := range all {
		if err := echoStatus(in.GetResponseStatus()); err != nil {
			return err
		}
		if err := respond(stream, in.GetResponseType(), in.GetResponseParameters()); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	flags := flag.NewFlagSet("server", flag.ContinueOnError)
	port := flags.Int("port", -1, "TCP port on 127.0.0.1 (0: pick a free one)")
	useTLS := flags.Bool("use_tls", false, "TLS (not supported: must be false)")
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2) // flag already printed the error and usage
	}
	if flags.NArg() > 0 || *port < 0 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "go-interop-server: usage: server --port=P [--use_tls=false]")
		os.Exit(2)
	}
	if *useTLS {
		fmt.Fprintln(os.Stderr, "go-interop-server: TLS not supported (--use_tls=true); run with --use_tls=false")
		os.Exit(2)
	}
	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-interop-server:", err)
		os.Exit(1)
	}
	srv := grpc.NewServer(grpc.StatsHandler(wirestats.Handler{}))
	pb.RegisterTestServiceServer(srv, testServer{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	fmt.Printf("go-interop-server: listening on %s\n", lis.Addr())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-sigs:
		fmt.Printf("go-interop-server: %v, closing\n", sig)
	case err := <-served:
		fmt.Fprintln(os.Stderr, "go-interop-server: serve:", err)
		os.Exit(1)
	}
	// Graceful stop waits for calls in flight; a stuck one must not keep the process alive.
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		srv.Stop()
	}
	fmt.Println("go-interop-server: closed")
}
