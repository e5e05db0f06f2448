"""A real gRPC client in another language: grpcio calls hello-service.

Usage: python3 python_client.py <proto dir> <work dir> <host:port>

Compiles hello.proto with grpcio-tools into <work dir>, then checks SayHello
for a known and an unknown name, grpc.health.v1, and server reflection.
Prints one JSON object with what it saw; exits non-zero on any failure.
"""

import json
import os
import sys

from grpc_tools import protoc

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2


def main():
    proto_dir, work_dir, address = sys.argv[1:4]
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

    seen = {}
    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        greeter = hello_pb2_grpc.GreeterStub(channel)
        seen["known"] = greeter.SayHello(hello_pb2.HelloRequest(name="bob"), timeout=10).message
        seen["unknown"] = greeter.SayHello(hello_pb2.HelloRequest(name="zoe"), timeout=10).message
        try:
            greeter.SayHello(hello_pb2.HelloRequest(name=""), timeout=10)
            seen["empty"] = "OK"
        except grpc.RpcError as error:
            seen["empty"] = error.code().name

        health = health_pb2_grpc.HealthStub(channel)
        seen["health"] = {}
        for service in ["", "hello.v1.Greeter"]:
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            seen["health"][service] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

        seen["services"] = list_services(channel, "v1")
        # grpcio's own reflection client (and grpcurl's older builds) speak v1alpha.
        seen["services_v1alpha"] = list_services(channel, "v1alpha")
    print(json.dumps(seen))


def list_services(channel, version):
    """Services listed by reflection `version` (v1 or v1alpha). grpcio-reflection
    ships only the v1alpha messages, which are the same on the wire as v1's."""
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    call = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    for response in call(iter([request]), timeout=10):
        return sorted(s.name for s in response.list_services_response.service)
    return []


if __name__ == "__main__":
    main()
