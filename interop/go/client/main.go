// A gRPC interop test client on grpc-go (Debian's 1.33), following grpc/grpc
// doc/interop-test-descriptions.md, because Debian's grpc-go ships no interop programs.
//
//	client --server_host=H --server_port=P --test_case=NAME [--use_tls=false]
//
// Exit 0: passed; 1: failed; 2: bad usage.
//
// The compression cases need what grpc-go 1.33 does not expose directly; see package wirestats
// for how message compression is observed. In particular:
//   - grpc-go compresses every message of a call or none; client_compressed_streaming sends its
//     second, uncompressed message as a grpc.PreparedMsg encoded on an uncompressed call.
//   - grpc-go advertises grpc-accept-encoding only when it compresses the request, so the
//     server_compressed cases send the header as metadata.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip" // also registers gzip
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "petrel/interop/grpc_testing"
	"petrel/interop/wirestats"
)

var (
	reqSizes  = []int{27182, 8, 1828, 45904}
	respSizes = []int{31415, 9, 2653, 58979}
)

const (
	largeReqSize        = 271828
	largeRespSize       = 314159
	initialMetadataKey  = "x-grpc-test-echo-initial"
	trailingMetadataKey = "x-grpc-test-echo-trailing-bin"
)

// failure ends the case: main recovers it and exits 1.
type failure struct{ msg string }

func failf(format string, args ...interface{}) {
	panic(failure{fmt.Sprintf(format, args...)})
}

func check(err error, what string) {
	if err != nil {
		failf("%s: %v", what, err)
	}
}

func zeros(size int) *pb.Payload {
	return &pb.Payload{Type: pb.PayloadType_COMPRESSABLE, Body: make([]byte, size)}
}

func checkPayload(p *pb.Payload, size int, what string) {
	if p == nil {
		failf("%s: response has no payload", what)
	}
	if p.GetType() != pb.PayloadType_COMPRESSABLE {
		failf("%s: payload type %v, want COMPRESSABLE", what, p.GetType())
	}
	if len(p.GetBody()) != size {
		failf("%s: payload size %d, want %d", what, len(p.GetBody()), size)
	}
	if !bytes.Equal(p.GetBody(), make([]byte, size)) {
		failf("%s: payload body is not all zeros", what)
	}
}

func expectStatus(err error, code codes.Code, msg *string, what string) {
	s, _ := status.FromError(err)
	if err == nil || s.Code() != code {
		failf("%s: got status %v (%v), want %v", what, s.Code(), err, code)
	}
	if msg != nil && s.Message() != *msg {
		failf("%s: status message %q, want %q", what, s.Message(), *msg)
	}
}

// expectIn checks how each response message of a call arrived (compressed or not).
func expectIn(call *wirestats.Call, want []bool, what string) {
	for i, w := range want {
		got, ok := call.In(i)
		if !ok {
			failf("%s: no wire record of response message %d", what, i)
		}
		if got != w {
			failf("%s: response message %d compressed=%v, want %v", what, i, got, w)
		}
	}
}

// expectOut checks how each request message of a call was sent, so a case cannot pass by accident.
func expectOut(call *wirestats.Call, want []bool, what string) {
	if got := call.Out(); !reflect.DeepEqual(got, want) {
		failf("%s: request messages compressed=%v, want %v", what, got, want)
	}
}

type env struct {
	conn *grpc.ClientConn
	tc   pb.TestServiceClient
}

var cases = map[string]func(ctx context.Context, e env){
	"empty_unary": func(ctx context.Context, e env) {
		res, err := e.tc.EmptyCall(ctx, &pb.Empty{})
		check(err, "EmptyCall")
		if res == nil {
			failf("EmptyCall: nil response")
		}
	},

	"large_unary": func(ctx context.Context, e env) {
		res, err := e.tc.UnaryCall(ctx, &pb.SimpleRequest{
			ResponseType: pb.PayloadType_COMPRESSABLE, ResponseSize: largeRespSize, Payload: zeros(largeReqSize),
		})
		check(err, "UnaryCall")
		checkPayload(res.GetPayload(), largeRespSize, "large_unary")
	},

	"client_compressed_unary": func(ctx context.Context, e env) {
		req := func(expect bool) *pb.SimpleRequest {
			return &pb.SimpleRequest{
				ResponseType: pb.PayloadType_COMPRESSABLE, ResponseSize: largeRespSize, Payload: zeros(largeReqSize),
				ExpectCompressed: &pb.BoolValue{Value: expect},
			}
		}
		// Probe: an uncompressed message claiming to be compressed must be rejected.
		pctx, probe := wirestats.WithCall(ctx)
		_, err := e.tc.UnaryCall(pctx, req(true))
		expectStatus(err, codes.InvalidArgument, nil, "probe (uncompressed, expect_compressed=true)")
		expectOut(probe, []bool{false}, "probe")

		cctx, compressed := wirestats.WithCall(ctx)
		res, err := e.tc.UnaryCall(cctx, req(true), grpc.UseCompressor(gzip.Name))
		check(err, "compressed UnaryCall")
		checkPayload(res.GetPayload(), largeRespSize, "compressed UnaryCall")
		expectOut(compressed, []bool{true}, "compressed UnaryCall")

		uctx, plain := wirestats.WithCall(ctx)
		res, err = e.tc.UnaryCall(uctx, req(false))
		check(err, "uncompressed UnaryCall")
		checkPayload(res.GetPayload(), largeRespSize, "uncompressed UnaryCall")
		expectOut(plain, []bool{false}, "uncompressed UnaryCall")
	},

	"server_compressed_unary": func(ctx context.Context, e env) {
		ctx = metadata.AppendToOutgoingContext(ctx, "grpc-accept-encoding", gzip.Name)
		for _, want := range []bool{true, false} {
			cctx, call := wirestats.WithCall(ctx)
			res, err := e.tc.UnaryCall(cctx, &pb.SimpleRequest{
				ResponseType: pb.PayloadType_COMPRESSABLE, ResponseSize: largeRespSize,
				ResponseCompressed: &pb.BoolValue{Value: want},
			})
			what := fmt.Sprintf("UnaryCall (response_compressed=%v)", want)
			check(err, what)
			checkPayload(res.GetPayload(), largeRespSize, what)
			expectIn(call, []bool{want}, what)
		}
	},

	"client_streaming": func(ctx context.Context, e env) {
		stream, err := e.tc.StreamingInputCall(ctx)
		check(err, "StreamingInputCall")
		sum := 0
		for _, s := range reqSizes {
			check(stream.Send(&pb.StreamingInputCallRequest{Payload: zeros(s)}), "Send")
			sum += s
		}
		res, err := stream.CloseAndRecv()
		check(err, "CloseAndRecv")
		if int(res.GetAggregatedPayloadSize()) != sum {
			failf("aggregated_payload_size %d, want %d", res.GetAggregatedPayloadSize(), sum)
		}
	},

	"client_compressed_streaming": func(ctx context.Context, e env) {
		pctx, probe := wirestats.WithCall(ctx)
		stream, err := e.tc.StreamingInputCall(pctx)
		check(err, "probe StreamingInputCall")
		// grpc-go compresses all messages of a call or none: encode the second message of the
		// real call on this uncompressed one, so it goes out uncompressed there.
		second := &grpc.PreparedMsg{}
		check(second.Encode(stream, &pb.StreamingInputCallRequest{
			Payload: zeros(45904), ExpectCompressed: &pb.BoolValue{Value: false},
		}), "PreparedMsg.Encode")
		err = stream.Send(&pb.StreamingInputCallRequest{Payload: zeros(27182), ExpectCompressed: &pb.BoolValue{Value: true}})
		if err != nil && err != io.EOF {
			failf("probe Send: %v", err)
		}
		_, err = stream.CloseAndRecv()
		expectStatus(err, codes.InvalidArgument, nil, "probe (uncompressed, expect_compressed=true)")
		expectOut(probe, []bool{false}, "probe")

		cctx, call := wirestats.WithCall(ctx)
		stream, err = e.tc.StreamingInputCall(cctx, grpc.UseCompressor(gzip.Name))
		check(err, "StreamingInputCall")
		check(stream.Send(&pb.StreamingInputCallRequest{Payload: zeros(27182), ExpectCompressed: &pb.BoolValue{Value: true}}), "Send 1")
		check(stream.SendMsg(second), "Send 2")
		res, err := stream.CloseAndRecv()
		check(err, "CloseAndRecv")
		if res.GetAggregatedPayloadSize() != 73086 {
			failf("aggregated_payload_size %d, want 73086", res.GetAggregatedPayloadSize())
		}
		expectOut(call, []bool{true, false}, "StreamingInputCall")
	},

	"server_streaming": func(ctx context.Context, e env) {
		params := make([]*pb.ResponseParameters, len(respSizes))
		for i, s := range respSizes {
			params[i] = &pb.ResponseParameters{Size: int32(s)}
		}
		stream, err := e.tc.StreamingOutputCall(ctx, &pb.StreamingOutputCallRequest{
			ResponseType: pb.PayloadType_COMPRESSABLE, ResponseParameters: params,
		})
		check(err, "StreamingOutputCall")
		for i, s := range respSizes {
			res, err := stream.Recv()
			check(err, fmt.Sprintf("Recv %d", i))
			checkPayload(res.GetPayload(), s, fmt.Sprintf("response %d", i))
		}
		if _, err := stream.Recv(); err != io.EOF {
			failf("after %d responses: got %v, want end of stream", len(respSizes), err)
		}
	},

	"server_compressed_streaming": func(ctx context.Context, e env) {
		ctx = metadata.AppendToOutgoingContext(ctx, "grpc-accept-encoding", gzip.Name)
		cctx, call := wirestats.WithCall(ctx)
		stream, err := e.tc.StreamingOutputCall(cctx, &pb.StreamingOutputCallRequest{
			ResponseType: pb.PayloadType_COMPRESSABLE,
			ResponseParameters: []*pb.ResponseParameters{
				{Size: 31415, Compressed: &pb.BoolValue{Value: true}},
				{Size: 92653, Compressed: &pb.BoolValue{Value: false}},
			},
		})
		check(err, "StreamingOutputCall")
		for i, s := range []int{31415, 92653} {
			res, err := stream.Recv()
			check(err, fmt.Sprintf("Recv %d", i))
			checkPayload(res.GetPayload(), s, fmt.Sprintf("response %d", i))
		}
		if _, err := stream.Recv(); err != io.EOF {
			failf("after 2 responses: got %v, want end of stream", err)
		}
		expectIn(call, []bool{true, false}, "StreamingOutputCall")
	},

	"ping_pong": func(ctx context.Context, e env) {
		stream, err := e.tc.FullDuplexCall(ctx)
		check(err, "FullDuplexCall")
		for i := range reqSizes {
			check(stream.Send(&pb.StreamingOutputCallRequest{
				ResponseType:       pb.PayloadType_COMPRESSABLE,
				ResponseParameters: []*pb.ResponseParameters{{Size: int32(respSizes[i])}},
				Payload:            zeros(reqSizes[i]),
			}), fmt.Sprintf("Send %d", i))
			res, err := stream.Recv()
			check(err, fmt.Sprintf("Recv %d", i))
			checkPayload(res.GetPayload(), respSizes[i], fmt.Sprintf("response %d", i))
		}
		check(stream.CloseSend(), "CloseSend")
		if _, err := stream.Recv(); err != io.EOF {
			failf("after CloseSend: got %v, want end of stream", err)
		}
	},

	"empty_stream": func(ctx context.Context, e env) {
		stream, err := e.tc.FullDuplexCall(ctx)
		check(err, "FullDuplexCall")
		check(stream.CloseSend(), "CloseSend")
		if _, err := stream.Recv(); err != io.EOF {
			failf("got %v, want end of stream without responses", err)
		}
	},

	"timeout_on_sleeping_server": func(ctx context.Context, e env) {
		ctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
		stream, err := e.tc.FullDuplexCall(ctx)
		if err != nil {
			expectStatus(err, codes.DeadlineExceeded, nil, "FullDuplexCall")
			return
		}
		// The send may fail once the deadline has passed; the status comes from Recv.
		_ = stream.Send(&pb.StreamingOutputCallRequest{Payload: zeros(27182)})
		_, err = stream.Recv()
		expectStatus(err, codes.DeadlineExceeded, nil, "Recv")
	},

	"cancel_after_begin": func(ctx context.Context, e env) {
		ctx, cancel := context.WithCancel(ctx)
		stream, err := e.tc.StreamingInputCall(ctx)
		check(err, "StreamingInputCall")
		cancel()
		_, err = stream.CloseAndRecv()
		expectStatus(err, codes.Canceled, nil, "CloseAndRecv")
	},

	"cancel_after_first_response": func(ctx context.Context, e env) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := e.tc.FullDuplexCall(ctx)
		check(err, "FullDuplexCall")
		check(stream.Send(&pb.StreamingOutputCallRequest{
			ResponseType:       pb.PayloadType_COMPRESSABLE,
			ResponseParameters: []*pb.ResponseParameters{{Size: 31415}},
			Payload:            zeros(27182),
		}), "Send")
		res, err := stream.Recv()
		check(err, "Recv")
		checkPayload(res.GetPayload(), 31415, "first response")
		cancel()
		_, err = stream.Recv()
		expectStatus(err, codes.Canceled, nil, "Recv after cancel")
	},

	"status_code_and_message": func(ctx context.Context, e env) {
		msg := "test status message"
		st := &pb.EchoStatus{Code: 2, Message: msg}
		_, err := e.tc.UnaryCall(ctx, &pb.SimpleRequest{ResponseStatus: st})
		expectStatus(err, codes.Unknown, &msg, "UnaryCall")
		stream, err := e.tc.FullDuplexCall(ctx)
		check(err, "FullDuplexCall")
		check(stream.Send(&pb.StreamingOutputCallRequest{ResponseStatus: st}), "Send")
		check(stream.CloseSend(), "CloseSend")
		_, err = stream.Recv()
		expectStatus(err, codes.Unknown, &msg, "FullDuplexCall")
	},

	"special_status_message": func(ctx context.Context, e env) {
		msg := "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
		_, err := e.tc.UnaryCall(ctx, &pb.SimpleRequest{ResponseStatus: &pb.EchoStatus{Code: 2, Message: msg}})
		expectStatus(err, codes.Unknown, &msg, "UnaryCall")
	},

	"custom_metadata": func(ctx context.Context, e env) {
		const initial = "test_initial_metadata_value"
		const trailing = "\xab\xab\xab"
		ctx = metadata.AppendToOutgoingContext(ctx, initialMetadataKey, initial, trailingMetadataKey, trailing)
		validate := func(header, trailer metadata.MD, what string) {
			if v := header.Get(initialMetadataKey); len(v) != 1 || v[0] != initial {
				failf("%s: echoed initial metadata %q, want [%q]", what, v, initial)
			}
			if v := trailer.Get(trailingMetadataKey); len(v) != 1 || v[0] != trailing {
				failf("%s: echoed trailing metadata %q, want [%q]", what, v, trailing)
			}
		}
		var header, trailer metadata.MD
		res, err := e.tc.UnaryCall(ctx, &pb.SimpleRequest{
			ResponseType: pb.PayloadType_COMPRESSABLE, ResponseSize: largeRespSize, Payload: zeros(largeReqSize),
		}, grpc.Header(&header), grpc.Trailer(&trailer))
		check(err, "UnaryCall")
		checkPayload(res.GetPayload(), largeRespSize, "UnaryCall")
		validate(header, trailer, "UnaryCall")

		stream, err := e.tc.FullDuplexCall(ctx)
		check(err, "FullDuplexCall")
		check(stream.Send(&pb.StreamingOutputCallRequest{
			ResponseType:       pb.PayloadType_COMPRESSABLE,
			ResponseParameters: []*pb.ResponseParameters{{Size: largeRespSize}},
			Payload:            zeros(largeReqSize),
		}), "Send")
		check(stream.CloseSend(), "CloseSend")
		res2, err := stream.Recv()
		check(err, "Recv")
		checkPayload(res2.GetPayload(), largeRespSize, "FullDuplexCall")
		if _, err := stream.Recv(); err != io.EOF {
			failf("FullDuplexCall: got %v, want end of stream", err)
		}
		sh, err := stream.Header()
		check(err, "Header")
		validate(sh, stream.Trailer(), "FullDuplexCall")
	},

	"unimplemented_method": func(ctx context.Context, e env) {
		_, err := e.tc.UnimplementedCall(ctx, &pb.Empty{})
		expectStatus(err, codes.Unimplemented, nil, "TestService/UnimplementedCall")
	},

	"unimplemented_service": func(ctx context.Context, e env) {
		_, err := pb.NewUnimplementedServiceClient(e.conn).UnimplementedCall(ctx, &pb.Empty{})
		expectStatus(err, codes.Unimplemented, nil, "UnimplementedService/UnimplementedCall")
	},
}

// run runs one case, turning a failure into an error.
func run(ctx context.Context, name string, e env) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", f.msg)
		}
	}()
	cases[name](ctx, e)
	return nil
}

func main() {
	flags := flag.NewFlagSet("client", flag.ContinueOnError)
	host := flags.String("server_host", "127.0.0.1", "server host")
	port := flags.Int("server_port", 0, "server port")
	name := flags.String("test_case", "", "interop case to run")
	useTLS := flags.Bool("use_tls", false, "TLS (not supported: must be false)")
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2) // flag already printed the error and usage
	}
	if flags.NArg() > 0 || *port <= 0 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "go-interop-client: usage: client --server_host=H --server_port=P --test_case=NAME [--use_tls=false]")
		os.Exit(2)
	}
	if *useTLS {
		fmt.Fprintln(os.Stderr, "go-interop-client: TLS not supported (--use_tls=true); run with --use_tls=false")
		os.Exit(2)
	}
	if _, ok := cases[*name]; !ok {
		fmt.Fprintf(os.Stderr, "go-interop-client: unknown --test_case %q\n", *name)
		os.Exit(2)
	}
	// Every case finishes in well under a second; the bound only keeps a hung peer from hanging us.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	conn, err := grpc.DialContext(ctx, addr, grpc.WithInsecure(), grpc.WithBlock(), grpc.WithStatsHandler(wirestats.Handler{}))
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-interop-client: %s: FAIL: dial %s: %v\n", *name, addr, err)
		os.Exit(1)
	}
	defer conn.Close()
	if err := run(ctx, *name, env{conn: conn, tc: pb.NewTestServiceClient(conn)}); err != nil {
		fmt.Fprintf(os.Stderr, "go-interop-client: %s: FAIL: %v\n", *name, err)
		conn.Close()
		os.Exit(1)
	}
	fmt.Printf("go-interop-client: %s: PASS\n", *name)
}
