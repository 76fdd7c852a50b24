"""Helpers for serving_cli_interop.sh: an ONNX file written by hand (protobuf fields encoded here) and models registered
with the official SDK.

  onnx <path> <factor>                     a graph y = x * factor (x: FP32 [-1, 4], y: FP32 [-1, 4])
  register <project> <name> <file> [tag]   registers the file as a model with OutputModel; prints MODEL <id>
"""
import struct
import sys


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, value):
    """A protobuf field: ints as varints, bytes/str as length-delimited."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(number << 3 | 2) + varint(len(value)) + value


def value_info(name):
    # TypeProto.tensor_type {elem_type FLOAT, shape {dim {dim_param "batch"}, dim {dim_value 4}}}
    shape = field(1, field(2, "batch")) + field(1, field(1, 4))
    tensor = field(1, 1) + field(2, shape)
    return field(1, name) + field(2, field(1, tensor))


def onnx(path, factor):
    factor_tensor = field(1, 1) + field(2, 1) + field(8, "factor") + field(9, struct.pack("<f", factor))  # dims [1], FLOAT, raw_data
    node = field(1, "x") + field(1, "factor") + field(2, "y") + field(4, "Mul")
    graph = field(1, node) + field(2, "scale") + field(5, factor_tensor) + field(11, value_info("x")) + field(12, value_info("y"))
    model = field(1, 7) + field(2, "serving_cli_interop") + field(7, graph) + field(8, field(2, 13))  # ir 7, opset 13
    with open(path, "wb") as f:
        f.write(model)


def register(project, name, path, tag=None):
    from clearml import OutputModel, Task
    task = Task.create(project_name=project, task_name="register " + name)
    model = OutputModel(task=task, name=name, framework="ONNX", tags=[tag] if tag else None)
    model.update_weights(weights_filename=path, auto_delete_file=False, async_enable=False)
    model.publish()
    print("MODEL {}".format(model.id))


if __name__ == "__main__":
    if sys.argv[1] == "onnx":
        onnx(sys.argv[2], float(sys.argv[3]))
    elif sys.argv[1] == "register":
        register(*sys.argv[2:])
    else:
        sys.exit(__doc__)
