"""Route parameters with bounds: `{round_id:id}` is a row id of 1 to 9 digits. A longer number
is no row of ours (the database's integer columns end at 2,147,483,647): the route does not
match and the answer is 404, never a 500 from an overflowing query. Imported by every module
that declares routes, before it declares them (Starlette compiles a route's path at once)."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class IdConvertor(Convertor[int]):
    regex = "[0-9]{1,9}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        if not 0 <= value <= 999_999_999:
            raise ValueError("an id has 1 to 9 digits")
        return str(value)


register_url_convertor("id", IdConvertor())
