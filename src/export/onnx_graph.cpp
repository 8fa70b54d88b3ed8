// build_onnx_model: the serving contract's graph (onnx_export.hpp) of a DLRM-style model, node
// by node: numeric transforms, bottom MLP, embedding lookups and multi-hot pooling, the
// interaction, top MLP and sigmoid.
#include "onnx_graph.hpp"

#include <cstring>
#include <string>
#include <vector>

#include "shadowsync/core/error.hpp"
#include "shadowsync/export/onnx_export.hpp"
#include "shadowsync/model/named_parameters.hpp"

namespace shadowsync::export_detail {
namespace {

// Appends nodes to a graph, naming each output after its node ("t<k>_<op>").
class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto& graph) : graph_(graph) {}

  onnx::NodeProto& add(const std::string& op, const std::vector<std::string>& inputs, std::string output = "") {
    onnx::NodeProto* node = graph_.add_node();
    const std::string id = std::to_string(next_++);
    node->set_op_type(op);
    node->set_name(op + "_" + id);
    for (const std::string& in : inputs) node->add_input(in);
    if (output.empty()) output = "t" + id + "_" + op;
    node->add_output(output);
    return *node;
  }
  // The output name of `node`.
  static const std::string& out(const onnx::NodeProto& node) { return node.output(0); }

  std::string op(const std::string& op, const std::vector<std::string>& inputs) { return out(add(op, inputs)); }

  std::string const_i64(const std::vector<int64_t>& values, bool scalar = false) {
    onnx::NodeProto& node = add("Constant", {});
    onnx::TensorProto* t = attribute(node, "value", onnx::AttributeProto::TENSOR).mutable_t();
    t->set_data_type(onnx::TensorProto::INT64);
    if (!scalar) t->add_dims(int64_t(values.size()));
    for (const int64_t v : values) t->add_int64_data(v);
    return out(node);
  }
  std::string const_f32(float value) {
    onnx::NodeProto& node = add("Constant", {});
    onnx::TensorProto* t = attribute(node, "value", onnx::AttributeProto::TENSOR).mutable_t();
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(value);
    return out(node);
  }
  std::string const_bool(const std::vector<bool>& values) {
    onnx::NodeProto& node = add("Constant", {});
    onnx::TensorProto* t = attribute(node, "value", onnx::AttributeProto::TENSOR).mutable_t();
    t->set_data_type(onnx::TensorProto::BOOL);
    t->add_dims(int64_t(values.size()));
    for (const bool v : values) t->add_int32_data(v ? 1 : 0);
    return out(node);
  }

  static onnx::AttributeProto& attribute(onnx::NodeProto& node, const std::string& name,
                                         onnx::AttributeProto::AttributeType type) {
    onnx::AttributeProto* a = node.add_attribute();
    a->set_name(name);
    a->set_type(type);
    return *a;
  }
  static void set_int(onnx::NodeProto& node, const std::string& name, int64_t v) {
    attribute(node, name, onnx::AttributeProto::INT).set_i(v);
  }
  static void set_ints(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& v) {
    onnx::AttributeProto& a = attribute(node, name, onnx::AttributeProto::INTS);
    for (const int64_t x : v) a.add_ints(x);
  }

  std::string reshape(const std::string& x, const std::vector<int64_t>& shape) { return op("Reshape", {x, const_i64(shape)}); }
  std::string gather(const std::string& data, const std::string& indices, int64_t axis) {
    onnx::NodeProto& node = add("Gather", {data, indices});
    set_int(node, "axis", axis);
    return out(node);
  }
  std::string concat(const std::vector<std::string>& xs, int64_t axis) {
    onnx::NodeProto& node = add("Concat", xs);
    set_int(node, "axis", axis);
    return out(node);
  }
  // y = x w^T + b (w: [out, in]), then ReLU when relu.
  std::string linear(const std::string& x, const NamedTensor& w, const NamedTensor& b, bool relu) {
    onnx::NodeProto& gemm = add("Gemm", {x, w.name, b.name});
    set_int(gemm, "transB", 1);
    return relu ? op("Relu", {out(gemm)}) : out(gemm);
  }

 private:
  onnx::GraphProto& graph_;
  int next_ = 0;
};

void add_input(onnx::GraphProto& graph, const ServingInput& in) {
  onnx::ValueInfoProto* v = graph.add_input();
  v->set_name(in.name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(in.dtype == "float32" ? onnx::TensorProto::FLOAT : onnx::TensorProto::INT64);
  for (const std::string& dim : in.shape) {
    onnx::TensorShapeProto_Dimension* d = t->mutable_shape()->add_dim();
    if (!dim.empty() && dim.find_first_not_of("0123456789") == std::string::npos) {
      d->set_dim_value(std::stoll(dim));
    } else {
      d->set_dim_param(dim);
    }
  }
}

const NamedTensor& param(const std::vector<NamedTensor>& params, const std::string& name) {
  for (const NamedTensor& p : params) {
    if (p.name == name) return p;
  }
  throw Error("export: the model has no parameter '" + name + "'");
}

// What an interaction reads: the V vectors stacked ([batch, V, d]), the bottom output ("" when
// the model has no bottom MLP) and the model's parameters by name.
struct InteractionInput {
  const ModelConfig& config;
  std::string vectors;
  std::string bottom_out;
  int count = 0;  // V
  const std::vector<NamedTensor>& params;
};

// dot: [bottom output, dot(t_i, t_j) for i = 1..V-1, j < i] (row by row): MatMul of [B,V,d] by
// [B,d,V], flattened to [B, V*V], then the lower triangle's flat indices gathered.
std::string dot_graph(GraphBuilder& g, const InteractionInput& in) {
  onnx::NodeProto& transposed = g.add("Transpose", {in.vectors});
  GraphBuilder::set_ints(transposed, "perm", {0, 2, 1});
  const std::string products = g.op("MatMul", {in.vectors, GraphBuilder::out(transposed)});
  const int64_t v = in.count;
  std::vector<int64_t> pairs;
  for (int64_t i = 1; i < v; ++i) {
    for (int64_t j = 0; j < i; ++j) pairs.push_back(i * v + j);
  }
  const std::string lower = g.gather(g.reshape(products, {0, v * v}), g.const_i64(pairs), 1);
  return in.bottom_out.empty() ? lower : g.concat({in.bottom_out, lower}, 1);
}

// cat: the V vectors side by side.
std::string cat_graph(GraphBuilder& g, const InteractionInput& in) {
  return g.reshape(in.vectors, {0, int64_t(in.count) * in.config.embedding_dim});
}

// dcn: x0 = the V vectors side by side ([B, D]); each cross layer l:
// x <- x0 * (x W_l^T + b_l) + x, with W_l = cross.<l>.weight (full rank) or u_l v_l (low rank:
// h = x v_l^T, then h u_l^T + b_l).
std::string dcn_graph(GraphBuilder& g, const InteractionInput& in) {
  const std::string x0 = cat_graph(g, in);
  std::string x = x0;
  for (int l = 0; l < in.config.cross_layers; ++l) {
    const std::string prefix = "cross." + std::to_string(l);
    const NamedTensor& bias = param(in.params, prefix + ".bias");
    std::string projected;
    if (in.config.cross_rank == 0) {
      projected = g.linear(x, param(in.params, prefix + ".weight"), bias, false);
    } else {
      onnx::NodeProto& down = g.add("Gemm", {x, param(in.params, prefix + ".v").name});
      GraphBuilder::set_int(down, "transB", 1);
      projected = g.linear(GraphBuilder::out(down), param(in.params, prefix + ".u"), bias, false);
    }
    x = g.op("Add", {g.op("Mul", {x0, projected}), x});
  }
  return x;
}

using InteractionGraph = std::string (*)(GraphBuilder&, const InteractionInput&);

// The graph function of an interaction; nullptr when the exporter cannot express it. One case
// per interaction.
InteractionGraph interaction_graph(Interaction interaction) {
  switch (interaction) {
    case Interaction::Dot:
      return dot_graph;
    case Interaction::Cat:
      return cat_graph;
    case Interaction::Dcn:
      return dcn_graph;
  }
  return nullptr;
}

// numeric [B, N] raw -> transformed: log1p(max(x, 0)) for log1p columns, x for identity ones.
std::string numeric_transform(GraphBuilder& g, const FeatureSchema& schema) {
  std::vector<bool> log1p;
  bool any = false, all = true;
  for (int j = 0; j < schema.numeric_count(); ++j) {
    const bool l = schema.columns[size_t(schema.numeric_column(j))].transform == NumericTransformKind::Log1p;
    log1p.push_back(l);
    any = any || l;
    all = all && l;
  }
  if (!any) return "numeric";
  const std::string logged = g.op("Log", {g.op("Add", {g.op("Relu", {"numeric"}), g.const_f32(1.0f)})});
  if (all) return logged;
  return g.op("Where", {g.const_bool(log1p), logged, "numeric"});
}

// Multi-hot column m (table `table`): the sum (or mean) of the rows of each list, [B, 1, d].
std::string pooled_bag(GraphBuilder& g, const NamedTensor& weight, int m, bool mean) {
  const std::string ids = "multi_hot_" + std::to_string(m);
  const std::string length = ids + "_length";
  const std::string rows = g.gather(weight.name, ids, 0);  // [B, L, d]
  const std::string max_length = g.gather(g.op("Shape", {ids}), g.const_i64({1}, true), 0);
  const std::string positions = g.op("Range", {g.const_i64({0}, true), max_length, g.const_i64({1}, true)});  // [L]
  const std::string lengths = g.reshape(length, {-1, 1});                                                   // [B, 1]
  onnx::NodeProto& mask = g.add("Cast", {g.op("Less", {positions, lengths})});                             // [B, L]
  GraphBuilder::set_int(mask, "to", onnx::TensorProto::FLOAT);
  const std::string kept = g.op("Mul", {rows, g.reshape(GraphBuilder::out(mask), {0, 0, 1})});
  onnx::NodeProto& sum = g.add("ReduceSum", {kept, g.const_i64({1})});  // [B, 1, d]
  GraphBuilder::set_int(sum, "keepdims", 1);
  if (!mean) return GraphBuilder::out(sum);
  onnx::NodeProto& count = g.add("Cast", {lengths});
  GraphBuilder::set_int(count, "to", onnx::TensorProto::FLOAT);
  const std::string divisor = g.op("Max", {GraphBuilder::out(count), g.const_f32(1.0f)});  // empty list: 0 / 1
  return g.op("Div", {GraphBuilder::out(sum), g.reshape(divisor, {0, 1, 1})});
}

}  // namespace

void check_interaction(const ModelConfig& config) {
  if (interaction_graph(config.interaction) == nullptr) {
    throw Error("export: interaction '" + interaction_name(config.interaction) + "' cannot be exported");
  }
}

onnx::ModelProto build_onnx_model(const Model& model, const float* dense, const EmbeddingStore& embeddings, int opset) {
  const ModelConfig& config = model.config();
  check_interaction(config);
  const FeatureSchema& schema = config.schema;
  const std::vector<NamedTensor> params = named_parameters(model, dense, embeddings);

  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.set_producer_name("shadowsync");
  proto.set_producer_version("0.1.0");
  proto.set_doc_string("click probability of a shadowsync model (serving contract version 1)");
  onnx::OperatorSetIdProto* set = proto.add_opset_import();
  set->set_domain("");
  set->set_version(opset);
  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name("shadowsync_ctr");
  for (const ServingInput& in : serving_inputs(config)) add_input(graph, in);
  for (const NamedTensor& p : params) {
    onnx::TensorProto* t = graph.add_initializer();
    t->set_name(p.name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (const int64_t dim : p.shape) t->add_dims(dim);
    const std::vector<float> floats = p.packed();
    t->set_raw_data(std::string(reinterpret_cast<const char*>(floats.data()), floats.size() * sizeof(float)));
  }

  GraphBuilder g(graph);
  const int d = config.embedding_dim;
  std::vector<std::string> vectors;  // each [B, 1, d]
  std::string bottom_out;
  if (!model.layout().bottom.empty()) {
    std::string x = numeric_transform(g, schema);
    for (size_t l = 0; l < model.layout().bottom.size(); ++l) {
      const std::string prefix = "bottom." + std::to_string(l);
      x = g.linear(x, param(params, prefix + ".weight"), param(params, prefix + ".bias"), true);
    }
    bottom_out = x;
    vectors.push_back(g.reshape(x, {0, 1, d}));
  }
  const int s = schema.categorical_count();
  for (int t = 0; t < s; ++t) {
    const NamedTensor& weight = param(params, "embedding." + std::to_string(t) + ".weight");
    const std::string rows = g.gather("categorical", g.const_i64({t}, true), 1);  // [B]
    vectors.push_back(g.reshape(g.gather(weight.name, rows, 0), {0, 1, d}));
  }
  for (int m = 0; m < schema.multi_hot_count(); ++m) {
    const NamedTensor& weight = param(params, "embedding." + std::to_string(s + m) + ".weight");
    vectors.push_back(pooled_bag(g, weight, m, schema.pooling(m) == Pooling::Mean));
  }
  const InteractionInput in{config, vectors.size() == 1 ? vectors[0] : g.concat(vectors, 1), bottom_out,
                            int(vectors.size()), params};
  std::string x = interaction_graph(config.interaction)(g, in);
  for (size_t l = 0; l < model.layout().top.size(); ++l) {
    const std::string prefix = "top." + std::to_string(l);
    x = g.linear(x, param(params, prefix + ".weight"), param(params, prefix + ".bias"),
                 l + 1 < model.layout().top.size());
  }
  g.add("Sigmoid", {g.reshape(x, {-1})}, "probability");
  onnx::ValueInfoProto* output = graph.add_output();
  output->set_name("probability");
  onnx::TypeProto_Tensor* type = output->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  type->mutable_shape()->add_dim()->set_dim_param("batch");
  return proto;
}

}  // namespace shadowsync::export_detail
