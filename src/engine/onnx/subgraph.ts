/**
 * Parts of an exported model's ONNX graph, for runs that need only some of its outputs:
 * onnxruntime computes every node of a graph whatever outputs are fetched (its option to run only
 * the path to the fetches exists in training builds only), so a part must be a graph of its own.
 */
import { onnx } from './onnx-proto'
import type { OnnxTypes } from './onnx-proto'

/** The graph cut down to what `outputs` need: other outputs, the nodes only they need, and inputs and initializers no kept node reads are dropped. */
export function pruneGraph(graph: OnnxTypes.IGraphProto, outputs: string[]): OnnxTypes.IGraphProto {
  const nodes = graph.node ?? []
  const producer = new Map<string, OnnxTypes.INodeProto>()
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n)
  const needed = new Set<OnnxTypes.INodeProto>()
  const stack = [...outputs]
  const seen = new Set<string>()
  while (stack.length) {
    const tensor = stack.pop() as string
    if (seen.has(tensor)) continue
    seen.add(tensor)
    const n = producer.get(tensor)
    if (!n || needed.has(n)) continue
    needed.add(n)
    for (const i of n.input ?? []) if (i) stack.push(i)
  }
  const kept = nodes.filter((n) => needed.has(n))
  const read = new Set(kept.flatMap((n) => n.input ?? []))
  return {
    ...graph,
    node: kept,
    input: (graph.input ?? []).filter((i) => read.has(i.name ?? '')),
    output: (graph.output ?? []).filter((o) => outputs.includes(o.name ?? '')),
    initializer: (graph.initializer ?? []).filter((t) => read.has(t.name ?? '')),
  }
}

/**
 * A serialised model without the output `drop`: for a cast-frame model, its attention maps and
 * direction output without the shadow block (its darkening), which is all its first pass and the
 * direction's extra views use (pipeline.ts). About half the model's work, and its outputs are the
 * full graph's exactly (the same nodes).
 */
export function withoutOutput(bytes: Uint8Array, drop: string): Uint8Array {
  const model = onnx.ModelProto.decode(bytes)
  const graph = model.graph ?? {}
  const keep = (graph.output ?? []).map((o) => o.name ?? '').filter((name) => name !== drop)
  if (keep.length === (graph.output ?? []).length) throw new Error(`the graph has no output '${drop}'`)
  return onnx.ModelProto.encode(onnx.ModelProto.create({ ...model, graph: pruneGraph(graph, keep) })).finish()
}
