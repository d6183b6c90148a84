// onnx-proto is a CommonJS bundle of protobufjs classes; this wrapper gives the rest of the
// exporter one typed, ESM-friendly handle on its `onnx` namespace.
import onnxProtoPackage from 'onnx-proto'

export const onnx = (onnxProtoPackage as unknown as { onnx: typeof import('onnx-proto').onnx }).onnx
export type { onnx as OnnxTypes } from 'onnx-proto'
