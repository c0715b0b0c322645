"""The blocking call inside an async def: an asyncio server whose handler calls time.sleep,
blocking the event loop, driven by clients in the same loop."""
import asyncio
import time

import _wl


async def handler(reader, writer):
    await reader.readline()
    time.sleep(0.02)  # marker: blocking call in async def
    writer.write(b"ok\n")
    await writer.drain()
    writer.close()


async def client(port):
    while True:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hi\n")
        await writer.drain()
        await reader.readline()
        writer.close()


async def main():
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for _ in range(4):
        asyncio.ensure_future(client(port))
    _wl.ready(port=port)
    while True:
        await asyncio.sleep(3600)


loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
loop.run_until_complete(main())
