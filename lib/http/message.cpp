#include "micq/http/message.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/beast/http/field.hpp>

namespace micq::http {

std::string_view Request::param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

Request request_of(beast_http::request<beast_http::string_body> message) {
  Request request{std::move(message), {}, {}, {}};
  std::string_view target(request.message.target().data(), request.message.target().size());
  auto question = target.find('?');
  request.path = target.substr(0, question);
  if (question != std::string_view::npos) request.query = target.substr(question + 1);
  return request;
}

Response json_response(Status status, std::shared_ptr<const std::string> body) {
  Response response{status, 11};
  response.set(beast_http::field::content_type, "application/json");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

Response json_response(Status status, std::string body) {
  return json_response(status, std::make_shared<const std::string>(std::move(body)));
}

std::string error_json(std::string_view code, std::string_view message) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  writer.StartObject();
  writer.Key("error");
  writer.StartObject();
  writer.Key("code");
  writer.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  writer.Key("message");
  writer.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  writer.EndObject();
  writer.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

Response error_response(Status status, std::string_view code, std::string_view message) {
  return json_response(status, error_json(code, message));
}

}  // namespace micq::http
