// The official socket.io-client, driven by the Python tests: one JSON line per event on stdout.
//   node socket_client.mjs '{"url": "...", "token": "...", "way": "auth", "transports": [...],
//                            "expect": 1, "timeout": 10000}'
// way: auth | header | query | identify | none.  Exits 0 after `expect` notifications,
// 2 on connect_error, 3 on timeout.
import { io } from "socket.io-client";

const options = JSON.parse(process.argv[2]);
const say = (event, data) => process.stdout.write(JSON.stringify({ event, ...data }) + "\n");

const connectOptions = { transports: options.transports ?? ["websocket"], reconnection: false };
if (options.way === "auth") connectOptions.auth = { token: options.token };
if (options.way === "header") connectOptions.extraHeaders = { Authorization: `Bearer ${options.token}` };
if (options.way === "query") connectOptions.query = { token: options.token };
if (options.origin) connectOptions.extraHeaders = { ...connectOptions.extraHeaders, Origin: options.origin };

const socket = io(options.url, connectOptions);
// Registered as soon as the engine opens, so an early polling-to-websocket upgrade is seen.
socket.io.on("open", () => {
  socket.io.engine.on("upgrade", (transport) => say("upgrade", { transport: transport.name }));
});
const received = [];
const timer = setTimeout(() => { say("timeout", { received }); process.exit(3); },
                         options.timeout ?? 10000);

socket.on("connect", async () => {
  if (options.way === "identify") {
    const answer = await socket.emitWithAck("identify", { token: options.token });
    say("identified", { answer });
  }
  say("connect", { transport: socket.io.engine.transport.name });
});
socket.on("connect_error", (err) => {
  say("connect_error", { message: err.message, code: err.data?.code ?? null });
  clearTimeout(timer);
  process.exit(2);
});
socket.on("notification", (notification) => {
  received.push(notification);
  say("notification", { notification });
  if (received.length >= (options.expect ?? 1)) {
    clearTimeout(timer);
    socket.disconnect();
    process.exit(0);
  }
});
