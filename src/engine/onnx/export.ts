/**
 * tfjs LayersModel -> ONNX (opset 17) in plain TypeScript.
 *
 * Why: tfjs trains and fine-tunes, but onnxruntime-node runs the same network ~10x faster on this
 * CPU. The exporter walks the model's symbolic graph (so nested functional models and shared
 * layers work), converts every layer class the engine contract allows, and stores weights as
 * float32 `raw_data` initializers. tfjs is NHWC, ONNX convolutions are NCHW: the graph transposes
 * once after the input and once before each output, and everything in between is NCHW.
 *
 * The exporter needs no tfjs import of its own: it only reads the model object it is given, so
 * loading it never pulls tfjs into a process that runs onnxruntime.
 */
import type * as tf from '@tensorflow/tfjs'
import { onnx } from './onnx-proto'
import type { OnnxTypes } from './onnx-proto'
import { UserError } from '../../core/errors'

export const ONNX_OPSET = 17
/** IR version 8 is what opset 17 was released with; onnxruntime 1.x reads it. */
const ONNX_IR_VERSION = 8

export interface OnnxExport {
  /** The serialised ModelProto. */
  bytes: Uint8Array
  inputName: string
  /** NHWC input shape without the batch dimension: [size, size, channels]. */
  inputShape: [number, number, number]
  /** Output names in the model's output order, each with its NHWC shape without batch. */
  outputs: { name: string; shape: [number, number, number] }[]
  /** Floating-point operations for one image (a multiply-add counts 2), all layers. */
  flops: number
  /** Of which in convolutions (Conv2D, Conv2DTranspose). */
  convFlops: number
  /** Layer classes met while exporting, with counts (for reports and tests). */
  layerClasses: Record<string, number>
}

/** The Keras layer classes this exporter converts. The engine contract lists the first group. */
export const SUPPORTED_LAYER_CLASSES = [
  'InputLayer', 'Conv2D', 'Conv2DTranspose', 'UpSampling2D', 'Concatenate', 'Add', 'Multiply',
  'Activation', 'ReLU', 'LeakyReLU', 'AveragePooling2D', 'MaxPooling2D',
  // Cheap extras that have an exact ONNX twin: merge layers, and inference-time no-ops.
  'Average', 'Maximum', 'Minimum', 'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout',
  // Nested functional models used as layers are flattened.
  'Model', 'Functional', 'Sequential',
] as const

type Shape = (number | null)[]
type Layer = tf.layers.Layer
type SymbolicTensor = tf.SymbolicTensor
type LayerConfig = Record<string, unknown>

/** [C, H, W] of an NHWC symbolic shape (batch dropped); every spatial size must be known. */
function chw(shape: Shape, what: string): [number, number, number] {
  if (shape.length !== 4) throw new UserError('ONNX_EXPORT', `${what}: expected a 4-D NHWC tensor, got shape [${shape.join(', ')}]`)
  const [, h, w, c] = shape
  if (h == null || w == null || c == null) {
    throw new UserError('ONNX_EXPORT', `${what}: spatial size must be fixed for export, got [${shape.join(', ')}]`)
  }
  return [c, h, w]
}

function pair(v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v]
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]]
  throw new UserError('ONNX_EXPORT', `${what}: expected a number or a pair, got ${JSON.stringify(v)}`)
}

/** TensorFlow's 'same' padding: output ceil(in / stride), the odd pixel of padding goes at the end. */
function samePads(inSize: number, kernel: number, stride: number, dilation: number): [number, number] {
  const effective = (kernel - 1) * dilation + 1
  const out = Math.ceil(inSize / stride)
  const total = Math.max((out - 1) * stride + effective - inSize, 0)
  const before = Math.floor(total / 2)
  return [before, total - before]
}

function attrInts(name: string, ints: number[]): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints }
}
function attrInt(name: string, i: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i }
}
function attrFloat(name: string, f: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f }
}
function attrString(name: string, s: string): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) }
}

class GraphBuilder {
  readonly nodes: OnnxTypes.INodeProto[] = []
  readonly initializers: OnnxTypes.ITensorProto[] = []
  flops = 0
  convFlops = 0
  readonly layerClasses: Record<string, number> = {}
  private counter = 0

  fresh(hint: string): string {
    return `${hint.replace(/[^A-Za-z0-9_]/g, '_')}__${this.counter++}`
  }

  node(opType: string, inputs: string[], hint: string, attribute: OnnxTypes.IAttributeProto[] = [], output?: string): string {
    const out = output ?? this.fresh(hint)
    this.nodes.push({ opType, input: inputs, output: [out], name: this.fresh(`${hint}_${opType}`), attribute })
    return out
  }

  /** A float32 initializer stored as little-endian raw_data. */
  floatConst(hint: string, dims: number[], values: Float32Array | number[]): string {
    const name = this.fresh(hint)
    const f32 = values instanceof Float32Array ? values : Float32Array.from(values)
    const raw = new Uint8Array(f32.byteLength)
    const view = new DataView(raw.buffer)
    for (let i = 0; i < f32.length; i++) view.setFloat32(i * 4, f32[i], true)
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw })
    return name
  }
}

/** An activation by its Keras name, as ONNX nodes after `x`. */
function emitActivation(g: GraphBuilder, x: string, activation: unknown, hint: string, elements: number): string {
  const name = typeof activation === 'string' ? activation : activation == null ? 'linear' : String(activation)
  switch (name) {
    case 'linear':
      return x
    case 'relu':
      g.flops += elements
      return g.node('Relu', [x], hint)
    case 'sigmoid':
      g.flops += elements
      return g.node('Sigmoid', [x], hint)
    case 'tanh':
      g.flops += elements
      return g.node('Tanh', [x], hint)
    case 'relu6': {
      g.flops += elements
      return g.node('Clip', [x, g.floatConst(`${hint}_min`, [], [0]), g.floatConst(`${hint}_max`, [], [6])], hint)
    }
    case 'elu':
      g.flops += elements
      return g.node('Elu', [x], hint, [attrFloat('alpha', 1)])
    case 'selu':
      g.flops += elements
      // Keras constants, which are ONNX's defaults too.
      return g.node('Selu', [x], hint, [attrFloat('alpha', 1.6732632423543772), attrFloat('gamma', 1.0507009873554805)])
    case 'softplus':
      g.flops += elements
      return g.node('Softplus', [x], hint)
    case 'swish': {
      g.flops += 2 * elements
      const s = g.node('Sigmoid', [x], hint)
      return g.node('Mul', [x, s], hint)
    }
    default:
      throw new UserError('ONNX_EXPORT', `${hint}: activation '${name}' has no ONNX export (use relu, sigmoid, tanh or linear)`)
  }
}

function weightsOf(layer: Layer): { shape: number[]; values: Float32Array }[] {
  return layer.getWeights().map((w) => ({ shape: w.shape.slice(), values: w.dataSync() as Float32Array }))
}

/** Reorders a tfjs conv kernel [kh, kw, a, b] into ONNX order [b, a, kh, kw] (Conv) or [a, b, kh, kw]. */
function permuteKernel(values: Float32Array, kh: number, kw: number, a: number, b: number, onnxOrder: 'ba' | 'ab'): Float32Array {
  const out = new Float32Array(values.length)
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < a; i++) {
        for (let o = 0; o < b; o++) {
          const src = ((y * kw + x) * a + i) * b + o
          const dst = onnxOrder === 'ba' ? ((o * a + i) * kh + y) * kw + x : ((i * b + o) * kh + y) * kw + x
          out[dst] = values[src]
        }
      }
    }
  }
  return out
}

/** NHWC axis of a Concatenate (negative allowed) -> NCHW axis. */
function nchwAxis(axis: number, layerName: string): number {
  const a = axis < 0 ? axis + 4 : axis
  const map: Record<number, number> = { 1: 2, 2: 3, 3: 1 }
  const out = map[a]
  if (out === undefined) throw new UserError('ONNX_EXPORT', `${layerName}: cannot concatenate along axis ${axis} (batch)`)
  return out
}

/**
 * Converts one application (node) of a layer. `inputs` are ONNX names of its NCHW inputs,
 * `inShapes`/`outShape` the NHWC symbolic shapes. Returns the ONNX name of its output.
 */
function emitLayer(g: GraphBuilder, layer: Layer, inputs: string[], inShapes: Shape[], outShape: Shape): string {
  const cls = layer.getClassName()
  const cfg = layer.getConfig() as LayerConfig
  const hint = layer.name
  g.layerClasses[cls] = (g.layerClasses[cls] ?? 0) + 1
  const [outC, outH, outW] = chw(outShape, `${hint} output`)
  const outElements = outC * outH * outW
  const requireChannelsLast = () => {
    if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channels_last' && cfg.dataFormat !== 'channelsLast') {
      throw new UserError('ONNX_EXPORT', `${hint}: only channels_last layers are exported, got ${String(cfg.dataFormat)}`)
    }
  }
  const one = () => {
    if (inputs.length !== 1) throw new UserError('ONNX_EXPORT', `${hint} (${cls}): expected one input, got ${inputs.length}`)
    return inputs[0]
  }

  switch (cls) {
    case 'Conv2D':
    case 'Conv2DTranspose': {
      requireChannelsLast()
      const [kh, kw] = pair(cfg.kernelSize, `${hint} kernelSize`)
      const [sh, sw] = pair(cfg.strides, `${hint} strides`)
      const [dh, dw] = pair(cfg.dilationRate ?? 1, `${hint} dilationRate`)
      const [inC, inH, inW] = chw(inShapes[0], `${hint} input`)
      const weights = weightsOf(layer)
      const kernel = weights[0]
      const useBias = cfg.useBias !== false
      const padding = cfg.padding as string
      if (padding !== 'same' && padding !== 'valid') throw new UserError('ONNX_EXPORT', `${hint}: padding '${padding}' is not exported`)
      const attrs: OnnxTypes.IAttributeProto[] = [attrInts('kernel_shape', [kh, kw]), attrInts('strides', [sh, sw])]
      let w: string
      if (cls === 'Conv2D') {
        // tfjs kernel [kh, kw, in, out] -> ONNX Conv weight [out, in, kh, kw].
        w = g.floatConst(`${hint}_W`, [outC, inC, kh, kw], permuteKernel(kernel.values, kh, kw, inC, outC, 'ba'))
        const [pt, pb] = padding === 'same' ? samePads(inH, kh, sh, dh) : [0, 0]
        const [pl, pr] = padding === 'same' ? samePads(inW, kw, sw, dw) : [0, 0]
        attrs.push(attrInts('dilations', [dh, dw]), attrInts('pads', [pt, pl, pb, pr]))
        g.convFlops += 2 * kh * kw * inC * outC * outH * outW
      } else {
        if (dh !== 1 || dw !== 1) throw new UserError('ONNX_EXPORT', `${hint}: dilated Conv2DTranspose is not exported`)
        // tfjs kernel [kh, kw, out, in] -> ONNX ConvTranspose weight [in, out, kh, kw].
        w = g.floatConst(`${hint}_W`, [inC, outC, kh, kw], permuteKernel(kernel.values, kh, kw, outC, inC, 'ba'))
        // tfjs computes a transposed conv as the gradient of a forward conv from the output size
        // to the input size; ONNX pads mean the same forward-conv pads.
        const padsFor = (inSize: number, outSize: number, k: number, s: number): [number, number, number] => {
          if (padding === 'valid') return [0, 0, outSize - ((inSize - 1) * s + k)]
          const total = (inSize - 1) * s + k - outSize
          if (total < 0) return [0, 0, -total]
          const before = Math.floor(total / 2)
          return [before, total - before, 0]
        }
        const [pt, pb, oph] = padsFor(inH, outH, kh, sh)
        const [pl, pr, opw] = padsFor(inW, outW, kw, sw)
        attrs.push(attrInts('pads', [pt, pl, pb, pr]))
        if (oph || opw) attrs.push(attrInts('output_padding', [oph, opw]))
        g.convFlops += 2 * kh * kw * inC * outC * inH * inW
      }
      const convInputs = [one(), w]
      if (useBias) convInputs.push(g.floatConst(`${hint}_B`, [outC], weights[1].values))
      g.flops += useBias ? outElements : 0
      const y = g.node(cls === 'Conv2D' ? 'Conv' : 'ConvTranspose', convInputs, hint, attrs)
      return emitActivation(g, y, cfg.activation, hint, outElements)
    }
    case 'UpSampling2D': {
      requireChannelsLast()
      const [sh, sw] = pair(cfg.size, `${hint} size`)
      const interpolation = (cfg.interpolation as string | undefined) ?? 'nearest'
      // tfjs resizes with alignCorners=false, halfPixelCenters=false: ONNX 'asymmetric'.
      const attrs = [attrString('coordinate_transformation_mode', 'asymmetric')]
      if (interpolation === 'nearest') attrs.push(attrString('mode', 'nearest'), attrString('nearest_mode', 'floor'))
      else if (interpolation === 'bilinear') attrs.push(attrString('mode', 'linear'))
      else throw new UserError('ONNX_EXPORT', `${hint}: UpSampling2D interpolation '${interpolation}' is not exported`)
      const scales = g.floatConst(`${hint}_scales`, [4], [1, 1, sh, sw])
      g.flops += interpolation === 'bilinear' ? 4 * outElements : 0
      return g.node('Resize', [one(), '', scales], hint, attrs)
    }
    case 'AveragePooling2D':
    case 'MaxPooling2D': {
      requireChannelsLast()
      const [kh, kw] = pair(cfg.poolSize, `${hint} poolSize`)
      const [sh, sw] = pair(cfg.strides ?? cfg.poolSize, `${hint} strides`)
      const [, inH, inW] = chw(inShapes[0], `${hint} input`)
      const padding = cfg.padding as string
      const [pt, pb] = padding === 'same' ? samePads(inH, kh, sh, 1) : [0, 0]
      const [pl, pr] = padding === 'same' ? samePads(inW, kw, sw, 1) : [0, 0]
      const attrs = [attrInts('kernel_shape', [kh, kw]), attrInts('strides', [sh, sw]), attrInts('pads', [pt, pl, pb, pr])]
      // TensorFlow averages over the real pixels only at padded borders.
      if (cls === 'AveragePooling2D') attrs.push(attrInt('count_include_pad', 0))
      g.flops += kh * kw * outElements
      return g.node(cls === 'AveragePooling2D' ? 'AveragePool' : 'MaxPool', [one()], hint, attrs)
    }
    case 'Concatenate': {
      const axis = nchwAxis((cfg.axis as number | undefined) ?? -1, hint)
      return g.node('Concat', inputs, hint, [attrInt('axis', axis)])
    }
    case 'Add':
    case 'Multiply':
    case 'Maximum':
    case 'Minimum':
    case 'Average': {
      if (inputs.length < 2) throw new UserError('ONNX_EXPORT', `${hint} (${cls}): needs at least two inputs`)
      for (const s of inShapes) {
        const [c, h, w] = chw(s, `${hint} input`)
        if (c !== outC || h !== outH || w !== outW) {
          throw new UserError('ONNX_EXPORT', `${hint} (${cls}): broadcasting merge inputs is not exported`)
        }
      }
      g.flops += (inputs.length - 1) * outElements
      const op = { Add: 'Sum', Multiply: 'Mul', Maximum: 'Max', Minimum: 'Min', Average: 'Mean' }[cls]
      if (op === 'Mul') {
        // Mul is binary in ONNX: chain it.
        let acc = inputs[0]
        for (let i = 1; i < inputs.length; i++) acc = g.node('Mul', [acc, inputs[i]], hint)
        return acc
      }
      return g.node(op, inputs, hint)
    }
    case 'Activation':
      return emitActivation(g, one(), cfg.activation, hint, outElements)
    case 'ReLU': {
      const maxValue = cfg.maxValue as number | null | undefined
      g.flops += outElements
      if (maxValue == null) return g.node('Relu', [one()], hint)
      return g.node('Clip', [one(), g.floatConst(`${hint}_min`, [], [0]), g.floatConst(`${hint}_max`, [], [maxValue])], hint)
    }
    case 'LeakyReLU': {
      g.flops += outElements
      return g.node('LeakyRelu', [one()], hint, [attrFloat('alpha', (cfg.alpha as number | undefined) ?? 0.3)])
    }
    case 'Dropout':
    case 'SpatialDropout2D':
    case 'GaussianNoise':
    case 'GaussianDropout':
      // Training-time noise: identity at inference.
      return one()
    default:
      throw new UserError(
        'ONNX_EXPORT',
        `layer '${hint}' is a ${cls}, which the ONNX exporter does not convert (supported: ${SUPPORTED_LAYER_CLASSES.join(', ')})`,
      )
  }
}

function isContainer(layer: Layer): layer is tf.LayersModel {
  const cls = layer.getClassName()
  return cls === 'Model' || cls === 'Functional' || cls === 'Sequential'
}

/**
 * Emits the graph of `model` (top level or nested) with its inputs bound to existing ONNX names.
 * Works backwards from the outputs through SymbolicTensor.inputs, so only what the outputs need is
 * emitted, and a layer applied twice gives two ONNX subgraphs.
 */
function emitContainer(g: GraphBuilder, model: tf.LayersModel, boundInputs: string[]): string[] {
  const names = new Map<number, string>()
  model.inputs.forEach((t, i) => names.set(t.id, boundInputs[i]))
  const visit = (t: SymbolicTensor): string => {
    const known = names.get(t.id)
    if (known !== undefined) return known
    const layer = t.sourceLayer
    if (layer.getClassName() === 'InputLayer') {
      throw new UserError('ONNX_EXPORT', `input '${layer.name}' is not an input of model '${model.name}'`)
    }
    const inputs = t.inputs.map(visit)
    let out: string
    if (isContainer(layer)) {
      g.layerClasses[layer.getClassName()] = (g.layerClasses[layer.getClassName()] ?? 0) + 1
      const outs = emitContainer(g, layer, inputs)
      out = outs[t.outputTensorIndex ?? 0]
    } else {
      out = emitLayer(g, layer, inputs, t.inputs.map((x) => x.shape), t.shape)
    }
    names.set(t.id, out)
    return out
  }
  return model.outputs.map(visit)
}

/**
 * Exports a tfjs functional model with one NHWC image input and any number of NHWC outputs.
 * The ONNX graph's input is named after the tfjs input layer ('input' per the contract) with a
 * dynamic batch dimension; outputs keep the tfjs output layer names and order.
 */
export function exportLayersModelToOnnx(model: tf.LayersModel, options: { producerVersion?: string } = {}): OnnxExport {
  if (model.inputs.length !== 1) throw new UserError('ONNX_EXPORT', `the model must have one input, it has ${model.inputs.length}`)
  const g = new GraphBuilder()
  const input = model.inputs[0]
  const [inC, inH, inW] = chw(input.shape, 'model input')
  const inputName = input.sourceLayer.name
  const nchwInput = g.node('Transpose', [inputName], 'input_nchw', [attrInts('perm', [0, 3, 1, 2])])
  const outs = emitContainer(g, model, [nchwInput])
  const outputNames = model.outputNames.slice()
  if (new Set(outputNames).size !== outputNames.length || outputNames.includes(inputName)) {
    throw new UserError('ONNX_EXPORT', `output names must be unique and differ from the input: ${outputNames.join(', ')}`)
  }
  const outputs = model.outputs.map((t, i) => {
    const [c, h, w] = chw(t.shape, `output ${outputNames[i]}`)
    g.node('Transpose', [outs[i]], `${outputNames[i]}_nhwc`, [attrInts('perm', [0, 2, 3, 1])], outputNames[i])
    return { name: outputNames[i], shape: [h, w, c] as [number, number, number] }
  })
  const valueInfo = (name: string, dims: number[]): OnnxTypes.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, ...dims.map((d) => ({ dimValue: d }))] },
      },
    },
  })
  const graph: OnnxTypes.IGraphProto = {
    name: model.name,
    node: g.nodes,
    initializer: g.initializers,
    input: [valueInfo(inputName, [inH, inW, inC])],
    output: outputs.map((o) => valueInfo(o.name, o.shape)),
  }
  const proto: OnnxTypes.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'umbra',
    producerVersion: options.producerVersion ?? '1',
    graph,
  }
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create(proto)).finish()
  return {
    bytes,
    inputName,
    inputShape: [inH, inW, inC],
    outputs,
    flops: g.flops + g.convFlops,
    convFlops: g.convFlops,
    layerClasses: g.layerClasses,
  }
}
