"""KEY=VALUE arguments of a verb, checked against the keys it takes."""

from archtrain.errors import ArchtrainError


def parse(
    verb: str,
    arguments: list[str],
    keys: dict[str, str | None],
    required: tuple[str, ...] = (),
    prefixes: tuple[str, ...] = (),
) -> tuple[dict[str, str | None], list[str]]:
    """The verb's `keys` (defaults filled in) and the arguments that start with one of `prefixes`
    (e.g. data.KEY=VALUE), in their given order; anything else is refused in one line."""
    values, passed = dict(keys), []
    for argument in arguments:
        key, equals, value = argument.partition("=")
        if not equals or not value:
            raise ArchtrainError(f"archtrain {verb}: '{argument}' is not KEY=VALUE (see archtrain {verb} --help)")
        if key.startswith(prefixes):
            passed.append(argument)
        elif key in keys:
            values[key] = value.strip("'\"")
        else:
            raise ArchtrainError(
                f"archtrain {verb} takes {', '.join(f'{k}=' for k in keys)}"
                f"{''.join(f' {p}KEY=' for p in prefixes)}, not {key}="
            )
    missing = [key for key in required if values[key] is None]
    if missing:
        raise ArchtrainError(
            f"archtrain {verb} needs {' '.join(f'{k}=...' for k in missing)} (see archtrain {verb} --help)"
        )
    return values, passed


def choice(key: str, value: str, options: tuple[str, ...]) -> str:
    """`value` if it is one of `options`, else a one-line refusal."""
    if value not in options:
        raise ArchtrainError(f"{key}={value}: choose from {', '.join(options)}")
    return value


def count(key: str, value: str) -> int:
    """`value` as a positive whole number, else a one-line refusal."""
    if not value.isdigit() or int(value) < 1:
        raise ArchtrainError(f"{key}={value}: must be a whole number of at least 1")
    return int(value)
