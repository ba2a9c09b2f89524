#include "connector/config/yaml_tree.h"

#include "connector/config/bounded_read.h"

#include <yaml.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>

namespace siem::yaml {

namespace {

constexpr std::size_t kMaxDepth = 1000;  // deeper is parsed by yaml-cpp (its own guard applies)

const std::string& empty_string() {
  static const std::string s;
  return s;
}

// Positions as yaml-cpp gives them. libyaml counts columns (and its index) in characters,
// yaml-cpp in bytes; they agree on lines. An empty value (`key:` with nothing after it) is, in
// yaml-cpp, at the next token, where libyaml puts it right after the indicator.
class Positions {
 public:
  explicit Positions(std::string_view text) : text_(text) {
    if (text_.substr(0, 3) == "\xef\xbb\xbf") begin_ = 3;  // a BOM is not counted by either
    ascii_ = std::all_of(text_.begin(), text_.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (!ascii_) {
      for (std::size_t i = begin_; i < text_.size(); ++i)
        if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) char_at_.push_back(i);
      char_at_.push_back(text_.size());
    }
  }

  yaml::Mark of(const yaml_mark_t& m) const {
    if (ascii_) return {static_cast<int>(m.line), static_cast<int>(m.column)};
    return {static_cast<int>(m.line), column(byte(m.index))};
  }

  // Where yaml-cpp puts an empty value that libyaml marks at `m`: the next token (past blanks,
  // line breaks and comments), or the end of the text.
  yaml::Mark next_token(const yaml_mark_t& m) const {
    std::size_t i = ascii_ ? begin_ + m.index : byte(m.index);
    int line = static_cast<int>(m.line);
    while (i < text_.size()) {
      const char c = text_[i];
      if (c == ' ' || c == '\t') {
        ++i;
      } else if (c == '\n' || c == '\r') {
        ++line;
        i += (c == '\r' && i + 1 < text_.size() && text_[i + 1] == '\n') ? 2 : 1;
      } else if (c == '#') {
        while (i < text_.size() && text_[i] != '\n' && text_[i] != '\r') ++i;
      } else {
        break;
      }
    }
    return {line, i < text_.size() ? column(i) : 0};  // yaml-cpp ends the stream at column 0
  }

 private:
  std::size_t byte(std::size_t char_index) const {
    return char_index < char_at_.size() ? char_at_[char_index] : text_.size();
  }
  int column(std::size_t offset) const {
    std::size_t start = offset;
    while (start > begin_ && text_[start - 1] != '\n' && text_[start - 1] != '\r') --start;
    return static_cast<int>(offset - start);
  }

  std::string_view text_;
  std::size_t begin_ = 0;
  bool ascii_ = true;
  std::vector<std::size_t> char_at_;  // byte offset of each character (non-ASCII text only)
};

bool is_null_string(std::string_view s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

// Builds the tree from libyaml's events; nullopt when libyaml refuses the text (or it needs
// something this builder leaves to yaml-cpp), so that the caller parses it with yaml-cpp.
class Builder {
 public:
  explicit Builder(std::string_view text) : text_(text), pos_(text) {}

  std::optional<Node> run() {
    yaml_parser_t parser;
    if (yaml_parser_initialize(&parser) == 0) return std::nullopt;
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text_.data()), text_.size());
    std::optional<Node> out;
    bool done = false;
    while (!done) {
      yaml_event_t ev;
      if (yaml_parser_parse(&parser, &ev) == 0) break;  // a syntax error: yaml-cpp reports it
      const bool ok = handle(ev, done);
      yaml_event_delete(&ev);
      if (!ok) break;
    }
    yaml_parser_delete(&parser);
    if (done) out = root_ ? *root_ : Node(std::make_shared<Node::Data>());  // no document: null
    return out;
  }

 private:
  struct Open {
    std::shared_ptr<Node::Data> data;
    std::optional<Node> key;  // a map's key waiting for its value
    std::string anchor;
  };

  static std::string tag_of(const yaml_char_t* tag, bool quoted) {
    if (tag != nullptr) return reinterpret_cast<const char*>(tag);
    return quoted ? "!" : "?";
  }

  // Adds a finished node to the collection being built (or makes it the document's root).
  void add(Node n) {
    if (stack_.empty()) {
      if (!root_) root_ = std::move(n);
      return;
    }
    Open& top = stack_.back();
    if (top.data->type == Node::Type::sequence) {
      top.data->items.push_back(std::move(n));
    } else if (!top.key) {
      top.key = std::move(n);
    } else {
      top.data->pairs.emplace_back(std::move(*top.key), std::move(n));
      top.key.reset();
    }
  }

  void remember(const yaml_char_t* anchor, const Node& n) {
    if (anchor != nullptr) anchors_[reinterpret_cast<const char*>(anchor)] = n;
  }

  bool open(const yaml_event_t& ev, Node::Type type, const yaml_char_t* anchor, const yaml_char_t* tag) {
    if (stack_.size() >= kMaxDepth) return false;
    auto d = std::make_shared<Node::Data>();
    d->type = type;
    d->tag = tag_of(tag, false);
    d->mark = pos_.of(ev.start_mark);
    stack_.push_back(Open{std::move(d), std::nullopt, anchor ? reinterpret_cast<const char*>(anchor) : ""});
    return true;
  }

  void close() {
    Open top = std::move(stack_.back());
    stack_.pop_back();
    Node n(std::move(top.data));
    if (!top.anchor.empty()) anchors_[top.anchor] = n;
    add(std::move(n));
  }

  bool handle(const yaml_event_t& ev, bool& done) {
    switch (ev.type) {
      case YAML_STREAM_START_EVENT:
      case YAML_DOCUMENT_START_EVENT:
        return true;
      case YAML_DOCUMENT_END_EVENT:  // the first document is the tree (YAML::Load reads no further)
      case YAML_STREAM_END_EVENT:
        done = true;
        return true;
      case YAML_SCALAR_EVENT: {
        const auto& s = ev.data.scalar;
        auto d = std::make_shared<Node::Data>();
        const std::string_view value(reinterpret_cast<const char*>(s.value), s.length);
        const bool plain = s.style == YAML_PLAIN_SCALAR_STYLE;
        d->mark = plain && value.empty() && s.tag == nullptr && s.anchor == nullptr ? pos_.next_token(ev.start_mark)
                                                                                   : pos_.of(ev.start_mark);
        if (plain && s.tag == nullptr && is_null_string(value)) {
          d->type = Node::Type::null;
        } else {
          d->type = Node::Type::scalar;
          d->scalar.assign(value);
          d->tag = tag_of(s.tag, !plain);
        }
        Node n(std::move(d));
        remember(s.anchor, n);
        add(std::move(n));
        return true;
      }
      case YAML_SEQUENCE_START_EVENT:
        return open(ev, Node::Type::sequence, ev.data.sequence_start.anchor, ev.data.sequence_start.tag);
      case YAML_MAPPING_START_EVENT:
        return open(ev, Node::Type::map, ev.data.mapping_start.anchor, ev.data.mapping_start.tag);
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        close();
        return true;
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(reinterpret_cast<const char*>(ev.data.alias.anchor));
        if (it == anchors_.end()) return false;  // yaml-cpp names the unknown anchor
        add(it->second);
        return true;
      }
      case YAML_NO_EVENT:
        return false;
    }
    return false;
  }

  std::string_view text_;
  Positions pos_;
  std::vector<Open> stack_;
  std::optional<Node> root_;
  std::map<std::string, Node, std::less<>> anchors_;
};

}  // namespace

const std::string& Node::Scalar() const noexcept { return d_ ? d_->scalar : empty_string(); }
const std::string& Node::Tag() const noexcept { return d_ ? d_->tag : empty_string(); }

const std::vector<Node>& Node::elements() const noexcept {
  static const std::vector<Node> none;
  return d_ ? d_->items : none;
}

const std::vector<std::pair<Node, Node>>& Node::entries() const noexcept {
  static const std::vector<std::pair<Node, Node>> none;
  return d_ ? d_->pairs : none;
}

Node Node::operator[](std::string_view key) const {
  for (const auto& [k, v] : entries())
    if (k.IsScalar() && k.Scalar() == key) return v;
  return Node();
}

namespace {
// yaml-cpp shares an aliased node; the copy below does not, so an alias repeated at every level
// (a "billion laughs" document) or one that names itself would grow without end: both are refused.
constexpr std::size_t kMaxCopiedNodes = 1'000'000;
constexpr std::size_t kMaxCopiedDepth = 1'000;

struct CopyBudget {
  std::size_t nodes = 0;
  std::size_t depth = 0;
};

Node from_yaml_cpp(const YAML::Node& node, CopyBudget& budget) {
  const auto m = node.Mark();
  if (++budget.nodes > kMaxCopiedNodes)
    throw YAML::ParserException(m, "more than " + std::to_string(kMaxCopiedNodes) +
                                       " nodes once aliases are expanded (an alias repeated at every level?)");
  if (budget.depth >= kMaxCopiedDepth)
    throw YAML::ParserException(m, "nested deeper than " + std::to_string(kMaxCopiedDepth) +
                                       " levels once aliases are expanded (an alias inside its own anchor?)");
  ++budget.depth;
  auto d = std::make_shared<Node::Data>();
  d->mark = {m.line, m.column};
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
      --budget.depth;
      return Node();
    case YAML::NodeType::Null:
      d->type = Node::Type::null;
      break;
    case YAML::NodeType::Scalar:
      d->type = Node::Type::scalar;
      d->scalar = node.Scalar();
      d->tag = node.Tag();
      break;
    case YAML::NodeType::Sequence:
      d->type = Node::Type::sequence;
      d->tag = node.Tag();
      for (const auto& item : node) d->items.push_back(from_yaml_cpp(item, budget));
      break;
    case YAML::NodeType::Map:
      d->type = Node::Type::map;
      d->tag = node.Tag();
      for (auto it = node.begin(); it != node.end(); ++it)
        d->pairs.emplace_back(from_yaml_cpp(it->first, budget), from_yaml_cpp(it->second, budget));
      break;
  }
  --budget.depth;
  return Node(std::move(d));
}
}  // namespace

Node from_yaml_cpp(const YAML::Node& node) {
  CopyBudget budget;
  return from_yaml_cpp(node, budget);
}

Node load(std::string_view text) {
  // A carriage return alone is a line break to libyaml, not to yaml-cpp, which may refuse the text.
  bool lone_cr = false;
  for (std::size_t i = text.find('\r'); i != std::string_view::npos && !lone_cr; i = text.find('\r', i + 1))
    lone_cr = i + 1 == text.size() || text[i + 1] != '\n';
  // NEL, LS and PS (U+0085, U+2028, U+2029) are line breaks to libyaml, and it writes the escapes
  // \N \_ \L \P as UTF-8 where yaml-cpp writes other bytes: such text is read by yaml-cpp too,
  // so that the two readers never give a mapping two meanings.
  static constexpr std::string_view kReadDifferently[] = {"\xC2\x85", "\xE2\x80\xA8", "\xE2\x80\xA9",
                                                          "\\N",      "\\_",           "\\L", "\\P"};
  const bool differs = lone_cr || std::any_of(std::begin(kReadDifferently), std::end(kReadDifferently),
                                              [&](std::string_view s) { return text.find(s) != std::string_view::npos; });
  if (!differs)
    if (auto n = Builder(text).run()) return *n;
  return from_yaml_cpp(YAML::Load(std::string(text)));  // throws its ParserException for bad YAML
}

Node load_file(const std::string& path) {
  const auto file = read_regular_file(path, kMaxConfigFileBytes);
  if (file.status != ReadFileStatus::ok)
    throw FileError(path, describe_read_failure(path, file, kMaxConfigFileBytes));
  return load(file.text);
}

}  // namespace siem::yaml
