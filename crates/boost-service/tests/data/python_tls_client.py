"""grpcio calls a kit gRPC server over TLS and mTLS.

Usage: python3 python_tls_client.py <proto dir> <work dir> <host:port> <ca> <cert> <key>

Compiles hello.proto with grpcio-tools into <work dir>, then calls SayHello
with a client certificate (expects the server to answer with the caller's
identity), and once without one (expects the call to fail: the server
requires a client certificate). Prints one JSON object; exits non-zero on
any unexpected outcome.
"""

import json
import os
import sys

from grpc_tools import protoc

import grpc


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    proto_dir, work_dir, address, ca, cert, key = sys.argv[1:7]
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{proto_dir}",
            f"--python_out={work_dir}",
            f"--grpc_python_out={work_dir}",
            os.path.join(proto_dir, "hello.proto"),
        ]
    )
    if code != 0:
        sys.exit(f"protoc failed with {code}")
    sys.path.insert(0, work_dir)
    import hello_pb2
    import hello_pb2_grpc

    # The server's certificate is for `localhost`; the address is 127.0.0.1.
    options = [("grpc.ssl_target_name_override", "localhost")]
    seen = {}
    mtls = grpc.ssl_channel_credentials(
        root_certificates=read(ca), private_key=read(key), certificate_chain=read(cert)
    )
    with grpc.secure_channel(address, mtls, options) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        greeter = hello_pb2_grpc.GreeterStub(channel)
        seen["with_cert"] = greeter.SayHello(hello_pb2.HelloRequest(name="py"), timeout=10).message

    tls_only = grpc.ssl_channel_credentials(root_certificates=read(ca))
    with grpc.secure_channel(address, tls_only, options) as channel:
        greeter = hello_pb2_grpc.GreeterStub(channel)
        try:
            greeter.SayHello(hello_pb2.HelloRequest(name="py"), timeout=10)
            seen["without_cert"] = "OK"
        except grpc.RpcError as error:
            seen["without_cert"] = error.code().name
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
