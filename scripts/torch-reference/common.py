"""Helpers shared by the torch-reference generators: compact, exact JSON output.

Numbers are written with Python's repr of the float64 value, which round-trips
exactly: a float32 value read with JSON.parse and stored into a Float32Array (or
passed through Math.fround) is the same float32; a float64 value is the same double.
NaN (missing label) is written as null.
"""
import json
import math


def flat(t):
    """A tensor as a flat list of Python floats (row-major), NaN as None."""
    return [None if math.isnan(v) else float(v) for v in t.detach().reshape(-1).tolist()]


def _dump(obj, indent, level):
    pad = ' ' * (indent * (level + 1))
    end = ' ' * (indent * level)
    if isinstance(obj, dict):
        if not obj:
            return '{}'
        items = [f'{pad}{json.dumps(k)}: {_dump(v, indent, level + 1)}' for k, v in obj.items()]
        return '{\n' + ',\n'.join(items) + '\n' + end + '}'
    if isinstance(obj, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in obj):
            return json.dumps(list(obj), allow_nan=False)  # arrays of scalars on one line
        items = [pad + _dump(v, indent, level + 1) for v in obj]
        return '[\n' + ',\n'.join(items) + '\n' + end + ']'
    return json.dumps(obj, allow_nan=False)


def write_json(path, obj, indent=1):
    with open(path, 'w') as f:
        f.write(_dump(obj, indent, 0) + '\n')
