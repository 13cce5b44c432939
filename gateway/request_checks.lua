-- Storyloom gateway: checks of each request's headers before anything else reads them.
-- render_config.py inlines this file into the Envoy config, with the limits filled in.
--
-- Every answer here is a local reply: REST callers get it as JSON (the local reply mappers),
-- gRPC and gRPC-Web callers as grpc-status and grpc-message.

local MAX_URL_BYTES = ${MAX_URL_BYTES}
-- Counted as HTTP/2 does (name + value + 32 per header): the server refuses a header list over
-- 8 KiB, and the gateway adds a few headers of its own (x-envoy-original-path repeats the URL).
local MAX_HEADER_LIST_BYTES = ${MAX_HEADER_LIST_BYTES}

-- Headers the gRPC server parses, and how their values must look. A malformed one fails the call
-- as INTERNAL, and worse: gRPC's header decoder may remember it and fail later calls of other
-- callers on the same upstream connection, or make Envoy drop that connection with every call on
-- it. So none leaves the gateway.
local function digits(value, most)
  return #value <= most and string.match(value, "^%d+$") ~= nil
end

local function compression(value)
  return value == "identity" or value == "gzip" or value == "deflate"
end

local CHECKS = {
  -- A deadline: 1 to 8 digits and a unit (Hours, Minutes, Seconds, millis, micros, nanos).
  ["grpc-timeout"] = {function(v) return #v <= 9 and string.match(v, "^%d+[HMSmun]$") ~= nil end,
                      "1 to 8 digits and a unit (H, M, S, m, u or n), like 30S"},
  ["grpc-encoding"] = {compression, "identity, gzip or deflate"},
  ["grpc-internal-encoding-request"] = {compression, "identity, gzip or deflate"},
  ["grpc-previous-rpc-attempts"] = {function(v) return digits(v, 9) end, "a number"},
  ["grpc-retry-pushback-ms"] = {function(v) return digits(v, 9) end, "a number"},
  ["grpc-status"] = {function(v) return digits(v, 2) end, "a number"},
}

-- Binary headers (names ending in -bin) carry base64, padded or not.
local function base64(value)
  return #value % 4 ~= 1 and string.match(value, "^[%w+/]*=?=?$") ~= nil
end

local function bad_header(name, value)
  local check = CHECKS[name]
  if check ~= nil and not check[1](value) then
    return name .. " must be " .. check[2] .. "."
  end
  if string.sub(name, -4) == "-bin" and not base64(value) then
    return name .. " must be base64, as every header whose name ends in -bin."
  end
  return nil
end

-- What gRPC metadata can carry: keys of 0-9 a-z - _ . and, unless binary (-bin), values of printable ASCII.
-- The server refuses any other header with INTERNAL ("Illegal header key"), so such a header (which no REST or
-- browser caller needs) is dropped here rather than failing the call.
local function grpc_cannot_carry(name, value)
  if string.sub(name, 1, 1) == ":" then
    return false
  end
  if string.match(name, "^[0-9a-z_.%-]+$") == nil then
    return true
  end
  return string.sub(name, -4) ~= "-bin" and string.match(value, "^[\32-\126]*$") == nil
end

function envoy_on_request(request)
  local headers = request:headers()
  local path = headers:get(":path") or ""
  local content_type = headers:get("content-type") or ""
  if string.sub(path, 1, 4) == "/v1/" and string.sub(content_type, 1, 16) ~= "application/grpc" then
    -- A REST request: its downloads may answer 206, 304 or 416 (envoy_on_response).
    request:streamInfo():dynamicMetadata():set("storyloom.http", "rest", "1")
  end
  if #path > MAX_URL_BYTES then
    request:respond({[":status"] = "414"},
      "The request URL is " .. #path .. " bytes; at most " .. MAX_URL_BYTES .. " are accepted.")
    return
  end
  local size, problem, dropped = 0, nil, {}
  for name, value in pairs(headers) do
    size = size + #name + #value + 32
    problem = problem or bad_header(name, value)
    if grpc_cannot_carry(name, value) then
      dropped[#dropped + 1] = name
    end
  end
  for _, name in ipairs(dropped) do
    headers:remove(name)
  end
  if size > MAX_HEADER_LIST_BYTES then
    request:respond({[":status"] = "431"},
      "The request headers are " .. size .. " bytes; at most " .. MAX_HEADER_LIST_BYTES .. " are accepted.")
  elseif problem ~= nil then
    request:respond({[":status"] = "400"}, problem)
  end
end

-- HTTP statuses gRPC has no word for. A download (MediaService.GetMedia, StoryService.GetStoryBundle) that
-- honours a Range or If-None-Match header says which status it means in its `x-http-status` response header
-- (206 Partial Content, 304 Not Modified, 416 Range Not Satisfiable); for a REST request the response gets that
-- status. gRPC and gRPC-Web callers keep their 200 and see the header as metadata.
local HTTP_STATUSES = {["206"] = true, ["304"] = true, ["416"] = true}

function envoy_on_response(response)
  local headers = response:headers()
  local status = headers:get("x-http-status")
  if status == nil then
    return
  end
  local rest = response:streamInfo():dynamicMetadata():get("storyloom.http")
  if rest ~= nil and rest["rest"] == "1" and HTTP_STATUSES[status] and headers:get(":status") == "200" then
    headers:remove("x-http-status")
    headers:replace(":status", status)
  end
end
