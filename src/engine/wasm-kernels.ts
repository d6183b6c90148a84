import * as tf from '@tensorflow/tfjs'

/**
 * Kernels the tfjs wasm backend lacks (or runs slowly) for training, written with ops it has.
 *
 * - Conv2DBackpropFilter (the weight gradient of every convolution): missing in tfjs-backend-wasm
 *   4.22, so training fails without it. Built from Transpose + Conv2D (see conv2dBackpropFilterByConv).
 * - Conv2DBackpropInput with stride 1 (the input gradient of the stride-1 convolutions, most of a
 *   U-Net): the wasm kernel exists but is ~3x slower than a forward conv2d, so it is replaced by
 *   conv2d(dy, the filter flipped in space with in/out channels swapped). Other strides (used by
 *   Conv2DTranspose and by the stride-2 encoder convolutions) keep the original kernel.
 *
 * Both are checked against the cpu backend's numbers in tests/unit/engine-train/wasm-kernels.test.ts.
 */

type Pad = { top: number; bottom: number; left: number; right: number }

interface ConvAttrs {
  strides: number | [number, number]
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding
  dataFormat: 'NHWC' | 'NCHW'
  dimRoundingMode?: 'floor' | 'round' | 'ceil'
  filterShape?: [number, number, number, number]
  inputShape?: [number, number, number, number]
}

let registered = false
let originalBackpropInput: tf.KernelConfig | undefined

function asTensor(info: tf.TensorInfo): tf.Tensor {
  if (info instanceof tf.Tensor) return info
  return tf.engine().makeTensorFromTensorInfo(info)
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v
}

/** Convolution geometry from tfjs's own helper, so 'same'/'valid'/explicit padding agree with conv2d. */
function convInfo(xShape: number[], filterShape: number[], attrs: ConvAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    pair(attrs.strides),
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  )
}

/**
 * dW[i,j,ci,co] = sum over n,y,x of xpad[n, y*sh+i, x*sw+j, ci] * dy[n,y,x,co]. That is itself a
 * convolution: treat the input channels as the batch and the batch as the channels
 * (x -> [Ci,H,W,N]), use dy as the filter (-> [Ho,Wo,N,Co]) dilated by the forward stride, and the
 * [Ci,kh,kw,Co] result transposed is the gradient. XNNPACK runs it ~9x faster than an im2col matMul.
 */
export function conv2dBackpropFilterByConv(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], attrs: ConvAttrs): tf.Tensor4D {
  if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter (Umbra wasm kernel): only NHWC is supported')
  return tf.tidy(() => {
    const info = convInfo(x.shape, filterShape, attrs)
    const [kh, kw] = filterShape
    const { strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info
    const pad: Pad = info.padInfo
    // Padding below/right so the "valid" result is exactly kh x kw; negative = input rows the forward conv never read.
    const padBottom = kh + (ho - 1) * sh - x.shape[1] - pad.top
    const padRight = kw + (wo - 1) * sw - x.shape[2] - pad.left
    let xc: tf.Tensor4D = x
    if (padBottom < 0 || padRight < 0) {
      xc = tf.slice(x, [0, 0, 0, 0], [x.shape[0], x.shape[1] + Math.min(0, padBottom), x.shape[2] + Math.min(0, padRight), x.shape[3]])
    }
    const xt = tf.transpose(xc, [3, 1, 2, 0]) as tf.Tensor4D
    const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D
    const explicit: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [pad.top, Math.max(0, padBottom)],
      [pad.left, Math.max(0, padRight)],
      [0, 0],
    ]
    const g = tf.conv2d(xt, dyAsFilter, 1, explicit, 'NHWC', [sh, sw])
    return tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D
  })
}

/** dx for a stride-1 convolution = conv2d(dy, W flipped in space with in/out channels swapped). */
export function conv2dBackpropInputStride1(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: [number, number, number, number], attrs: ConvAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(inputShape, filter.shape, attrs)
    const [kh, kw] = filter.shape
    const pad: Pad = info.padInfo
    const flipped = tf.reverse(filter, [0, 1]).transpose([0, 1, 3, 2]) as tf.Tensor4D
    // Output row y of dx reads dy rows y + top - (kh-1) .. y + top, so dy is padded by kh-1-top on top.
    const top = kh - 1 - pad.top
    const left = kw - 1 - pad.left
    const bottom = inputShape[1] + kh - 1 - dy.shape[1] - top
    const right = inputShape[2] + kw - 1 - dy.shape[2] - left
    let dyp: tf.Tensor4D = dy
    if (top < 0 || left < 0 || bottom < 0 || right < 0) {
      dyp = tf.slice(dy, [0, Math.max(0, -top), Math.max(0, -left), 0], [dy.shape[0], dy.shape[1] - Math.max(0, -top) - Math.max(0, -bottom), dy.shape[2] - Math.max(0, -left) - Math.max(0, -right), dy.shape[3]])
    }
    const explicit: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ]
    return tf.conv2d(dyp, flipped, 1, explicit)
  })
}

/** Registers the kernels above for the 'wasm' backend. Safe to call more than once. */
export function registerMissingWasmKernels(): void {
  if (registered) return
  registered = true
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs }) => {
        const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo }
        const a = attrs as unknown as ConvAttrs
        return conv2dBackpropFilterByConv(asTensor(x) as tf.Tensor4D, asTensor(dy) as tf.Tensor4D, a.filterShape!, a)
      },
    })
  }
  originalBackpropInput = tf.getKernel('Conv2DBackpropInput', 'wasm')
  if (originalBackpropInput) {
    const original = originalBackpropInput
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm')
    tf.registerKernel({
      kernelName: 'Conv2DBackpropInput',
      backendName: 'wasm',
      // The original kernel binds its wasm function in setupFunc when the backend starts, so
      // registration must happen before tf.setBackend('wasm') (initTfBackend does that).
      setupFunc: original.setupFunc,
      disposeFunc: original.disposeFunc,
      kernelFunc: (args) => {
        const a = args.attrs as unknown as ConvAttrs
        const [sh, sw] = pair(a.strides)
        if (sh !== 1 || sw !== 1 || a.dataFormat === 'NCHW') return original.kernelFunc(args)
        const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo }
        return conv2dBackpropInputStride1(asTensor(dy) as tf.Tensor4D, asTensor(filter) as tf.Tensor4D, a.inputShape!, a)
      },
    })
  }
}
