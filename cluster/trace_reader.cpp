#include "cluster/trace_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "base/json.hpp"
#include "cluster/local_cluster.hpp"

namespace lg {

namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

} // namespace

result<trace_record> parse_trace_line(const std::string& line) {
  Struct doc;
  auto status = google::protobuf::util::JsonStringToMessage(line, &doc);
  if (!status.ok())
    return make_error(cluster_errc::bad_option,
                      "not a JSON object (" + std::string{status.message()}
                        + ")");
  const auto& f = doc.fields();
  auto str = [&](const char* name, std::string& out) {
    auto i = f.find(name);
    if (i == f.end() || i->second.kind_case() != Value::kStringValue)
      return false;
    out = i->second.string_value();
    return true;
  };
  auto num = [&](const char* name, double& out) {
    auto i = f.find(name);
    if (i == f.end() || i->second.kind_case() != Value::kNumberValue)
      return false;
    out = i->second.number_value();
    return true;
  };
  trace_record r;
  double at = 0;
  double lamport = 0;
  double term = 0;
  for (auto name : {"event", "from", "to", "type", "partition"}) {
    std::string dummy;
    if (!str(name, dummy))
      return make_error(cluster_errc::bad_option,
                        std::string{"field \""} + name
                          + "\" is missing or not a string");
  }
  for (auto name : {"at_us", "lamport", "term"}) {
    double dummy;
    if (!num(name, dummy))
      return make_error(cluster_errc::bad_option,
                        std::string{"field \""} + name
                          + "\" is missing or not a number");
  }
  str("event", r.event);
  str("from", r.from);
  str("to", r.to);
  str("type", r.type);
  str("partition", r.partition);
  num("at_us", at);
  num("lamport", lamport);
  num("term", term);
  r.at_us = static_cast<int64_t>(at);
  r.lamport = static_cast<uint64_t>(lamport);
  r.term = static_cast<uint64_t>(term);
  if (auto i = f.find("fields"); i != f.end()) {
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    if (i->second.kind_case() == Value::kStructValue)
      (void) google::protobuf::util::MessageToJsonString(
        i->second.struct_value(), &r.fields_json, opts);
  }
  if (r.fields_json.empty())
    r.fields_json = "{}";
  return r;
}

result<std::vector<trace_record>> read_trace_file(const std::string& path,
                                                  std::string* note) {
  std::ifstream in{path};
  if (!in)
    return make_error(cluster_errc::bad_option,
                      "can't read trace file '" + path
                        + "': " + std::strerror(errno));
  std::vector<trace_record> records;
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty())
      continue;
    auto r = parse_trace_line(line);
    if (!r && in.eof() && note != nullptr) {
      // A last line without its newline: the process is still writing it,
      // or died while writing it. What came before is whole.
      *note = "trace file '" + path + "' line " + std::to_string(n)
              + " is incomplete (still being written, or the process "
                "stopped while writing it); ignored";
      break;
    }
    if (!r)
      return make_error(cluster_errc::bad_option,
                        "trace file '" + path + "' line " + std::to_string(n)
                          + " is damaged: " + r.err().detail());
    r->source = path + ":" + std::to_string(n);
    records.push_back(std::move(*r));
  }
  if (in.bad())
    return make_error(cluster_errc::bad_option,
                      "error reading trace file '" + path + "'");
  return records;
}

std::vector<trace_record> merge_traces(
  std::vector<std::vector<trace_record>> traces) {
  std::vector<trace_record> all;
  for (auto& t : traces)
    for (auto& r : t)
      all.push_back(std::move(r));
  std::stable_sort(all.begin(), all.end(),
                   [](const trace_record& a, const trace_record& b) {
                     return a.lamport < b.lamport;
                   });
  return all;
}

std::vector<trace_record> filter_trace(const std::vector<trace_record>& all,
                                       const trace_filter& f,
                                       int64_t origin_us) {
  std::vector<trace_record> out;
  auto node_of = [](const std::string& endpoint) {
    return endpoint.substr(0, endpoint.find('/'));
  };
  for (auto& r : all) {
    if (f.partition && r.partition != *f.partition)
      continue;
    if (f.leaf && node_of(r.from) != *f.leaf && node_of(r.to) != *f.leaf)
      continue;
    if (f.type && r.type != *f.type)
      continue;
    double ms = static_cast<double>(r.at_us - origin_us) / 1000.0;
    if (f.from_ms && ms < *f.from_ms)
      continue;
    if (f.to_ms && ms > *f.to_ms)
      continue;
    out.push_back(r);
  }
  return out;
}

std::string render_timeline(const std::vector<trace_record>& records,
                            int64_t origin_us) {
  std::string out;
  char buf[64];
  for (auto& r : records) {
    std::snprintf(buf, sizeof(buf), "%+11.3f ms  L%-7llu ",
                  static_cast<double>(r.at_us - origin_us) / 1000.0,
                  static_cast<unsigned long long>(r.lamport));
    out += buf;
    out += r.from + " -> " + r.to + "  " + r.type;
    if (!r.partition.empty())
      out += "  " + r.partition;
    out += "  term " + std::to_string(r.term);
    if (r.event != "sent")
      out += "  [" + r.event + "]";
    out += '\n';
  }
  return out;
}

std::string render_html(const std::vector<trace_record>& records,
                        int64_t origin_us, const std::string& title) {
  // Lanes in order of first appearance.
  std::vector<std::string> lanes;
  std::map<std::string, size_t> lane_of;
  for (auto& r : records)
    for (auto* e : {&r.from, &r.to})
      if (lane_of.emplace(*e, lanes.size()).second)
        lanes.push_back(*e);
  std::string html;
  html += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
          + escape_html(title) + "</title>\n<style>\n"
          "body{font:13px sans-serif;margin:0}"
          "#bar{position:sticky;top:0;background:#fff;padding:6px;"
          "border-bottom:1px solid #ccc;z-index:2}"
          "#info{position:fixed;right:8px;top:40px;width:420px;max-height:80%;"
          "overflow:auto;background:#ffe;border:1px solid #aa8;padding:6px;"
          "white-space:pre-wrap;font:12px monospace;display:none}"
          "line.m{stroke:#369;stroke-width:1.5}line.m:hover{stroke:#c30;"
          "stroke-width:3}line.dropped{stroke:#c00;stroke-dasharray:4 3}"
          "text{font:11px sans-serif}.lane{stroke:#ccc}\n"
          "</style></head><body>\n<div id=\"bar\"><b>"
          + escape_html(title)
          + "</b> &mdash; partition <input id=\"fp\" size=8> leaf <input "
            "id=\"fl\" size=14> type <input id=\"ft\" size=16> from ms <input "
            "id=\"ff\" size=6> to ms <input id=\"fto\" size=6> "
            "<button onclick=\"draw()\">filter</button> <span id=\"count\">"
            "</span></div>\n<div id=\"info\"></div>\n<svg id=\"svg\"></svg>\n"
            "<script>\nconst lanes=[";
  for (size_t i = 0; i < lanes.size(); ++i)
    html += std::string(i ? "," : "") + "\"" + json_escape(lanes[i]) + "\"";
  html += "];\nconst msgs=[\n";
  char buf[64];
  for (auto& r : records) {
    std::snprintf(buf, sizeof(buf), "%.3f",
                  static_cast<double>(r.at_us - origin_us) / 1000.0);
    html += "{t:" + std::string{buf} + ",l:" + std::to_string(r.lamport)
            + ",a:" + std::to_string(lane_of[r.from])
            + ",b:" + std::to_string(lane_of[r.to]) + ",type:\""
            + json_escape(r.type) + "\",p:\"" + json_escape(r.partition)
            + "\",term:" + std::to_string(r.term) + ",ev:\""
            + json_escape(r.event) + "\",f:\"" + json_escape(r.fields_json)
            + "\"},\n";
  }
  html += R"JS(];
const W=170,H=22,TOP=60;
function node(e){return e.split('/')[0];}
function draw(){
  const fp=document.getElementById('fp').value.trim(),
        fl=document.getElementById('fl').value.trim(),
        ft=document.getElementById('ft').value.trim(),
        ff=parseFloat(document.getElementById('ff').value),
        fto=parseFloat(document.getElementById('fto').value);
  const shown=msgs.filter(m=>(!fp||m.p===fp)&&(!ft||m.type===ft)&&
    (!fl||node(lanes[m.a])===fl||node(lanes[m.b])===fl)&&
    (isNaN(ff)||m.t>=ff)&&(isNaN(fto)||m.t<=fto));
  const svg=document.getElementById('svg');
  const h=TOP+H*(shown.length+1);
  svg.setAttribute('width',W*lanes.length+40);svg.setAttribute('height',h);
  let s='<defs><marker id="ar" markerWidth="8" markerHeight="8" refX="7" refY="3" orient="auto"><path d="M0,0 L0,6 L7,3 z" fill="#369"/></marker></defs>';
  lanes.forEach((l,i)=>{const x=20+W*i+W/2;
    s+=`<text x="${x}" y="20" text-anchor="middle">${l.replace(/&/g,'&amp;').replace(/</g,'&lt;')}</text>`;
    s+=`<line class="lane" x1="${x}" y1="30" x2="${x}" y2="${h}"/>`;});
  shown.forEach((m,k)=>{const y=TOP+H*k, x1=20+W*m.a+W/2, x2=20+W*m.b+W/2;
    const cls=m.ev==='sent'?'m':'m dropped';
    s+=`<line class="${cls}" x1="${x1}" y1="${y}" x2="${x2===x1?x1+30:x2}" y2="${y+(x2===x1?8:0)}" marker-end="url(#ar)" onclick="show(${msgs.indexOf(m)})"/>`;
    s+=`<text x="${Math.min(x1,x2)+4}" y="${y-3}">${m.t.toFixed(1)} ms ${m.type} ${m.p} t${m.term}${m.ev==='sent'?'':' ['+m.ev+']'}</text>`;});
  svg.innerHTML=s;
  document.getElementById('count').textContent=shown.length+' of '+msgs.length+' messages';
}
function show(i){const m=msgs[i],d=document.getElementById('info');
  d.style.display='block';
  let f=m.f;try{f=JSON.stringify(JSON.parse(m.f),null,2);}catch(e){}
  d.textContent=`${m.t} ms  lamport ${m.l}\n${lanes[m.a]} -> ${lanes[m.b]}\n${m.type} ${m.p} term ${m.term} ${m.ev}\n\n${f}`;}
draw();
</script></body></html>
)JS";
  return html;
}

} // namespace lg
