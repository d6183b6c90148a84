export { renderPair, renderScene, GENERATOR_VERSION, type RenderOptions, type RenderedPair, type PairMeta } from './render'
export { generateScene, type Scene } from './scene'
export { loadTextures, loadTextureFolder, proceduralTextures, type TextureSet, type Texture } from './textures'
export { writePairFolder, sampleId } from './write'
