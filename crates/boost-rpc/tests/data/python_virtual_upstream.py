"""grpcio calls a virtual upstream (a tape served by boost_rpc::virtual_upstream).

Usage: python3 python_virtual_upstream.py <proto dir> <work dir> <host:port>

Compiles hello.proto with grpcio-tools into <work dir>, then calls
hello.v1.Profiles/GetProfile for a recorded name, a recorded NOT_FOUND and a
name never recorded, checks grpc.health.v1 and lists services by reflection.
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
        profiles = hello_pb2_grpc.ProfilesStub(channel)
        for name in ["bob", "zoe", "bobby"]:
            try:
                reply = profiles.GetProfile(hello_pb2.GetProfileRequest(name=name), timeout=10)
                seen[name] = reply.language
            except grpc.RpcError as error:
                seen[name] = f"{error.code().name}: {error.details()}"

        health = health_pb2_grpc.HealthStub(channel)
        seen["health"] = {}
        for service in ["", "hello.v1.Profiles"]:
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            seen["health"][service] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

        request = reflection_pb2.ServerReflectionRequest(list_services="")
        call = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        for response in call(iter([request]), timeout=10):
            seen["services"] = sorted(s.name for s in response.list_services_response.service)
            break
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
