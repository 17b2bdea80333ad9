-- Requests read from a file, one per line: METHOD \t PATH \t HEADERS (k=v;k=v) \t BODY.
-- The file is split into one slice per wrk thread, and each thread walks its own slice, so a
-- line is sent once per pass (each signed callback applies once; creates spread over users).
local counter = 0
function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

local requests = {}
local first, last, position

function init(args)
  for line in io.lines(args[1]) do
    local method, path, headers, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local h = {}
    for k, v in headers:gmatch("([^=;]+)=([^;]*)") do h[k] = v end
    table.insert(requests, wrk.format(method, path, h, body ~= "" and body or nil))
  end
  local threads = tonumber(args[2])
  local size = math.floor(#requests / threads)
  first = index * size + 1
  last = (index == threads - 1) and #requests or (index + 1) * size
  position = first - 1
end

function request()
  position = position + 1
  if position > last then position = first end
  return requests[position]
end
