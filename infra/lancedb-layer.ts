import * as path from 'node:path';
import { AssetHashType, DockerImage, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { stageLanceDbRuntime } from './lancedb-runtime';

const ID = 'LanceDbRuntime';

/**
 * LanceDB's runtime `node_modules` (its JavaScript, apache-arrow and the linux-arm64 binary) as one Lambda layer,
 * attached to the functions that load LanceDB and to no other. One layer rather than a copy in each of those
 * bundles: ~150 MB is staged and uploaded once, not once per function, and a change to a handler redeploys a
 * bundle of a few MB. Lambda puts `/opt/nodejs/node_modules` on `NODE_PATH`, so the bundles' `require` of the
 * packages they leave external finds them there. The layer counts towards the function's 250 MB limit, which
 * the staging checks.
 */
export class LanceDbLayer extends Construct {
  /** The stack's one LanceDB layer, created on first use. */
  static of(scope: Construct): LanceDbLayer {
    const stack = Stack.of(scope);
    return (stack.node.tryFindChild(ID) as LanceDbLayer | undefined) ?? new LanceDbLayer(stack, ID);
  }

  readonly layer: lambda.LayerVersion;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    const repoRoot = path.resolve(__dirname, '..');
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      description: 'LanceDB, apache-arrow and the LanceDB linux-arm64 native module',
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      compatibleRuntimes: [lambda.Runtime.NODEJS_24_X],
      // The source is only a placeholder: the layer's content is staged from node_modules and .lambda-native.
      code: lambda.Code.fromAsset(path.join(repoRoot, 'infra'), {
        // Hashed by what was staged, so a new LanceDB version (or arrow, or binary) makes a new layer version.
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // Never used: local staging either succeeds or fails synth naming the fix.
          image: DockerImage.fromRegistry('docker-bundling-is-not-used'),
          local: {
            tryBundle(outputDir) {
              stageLanceDbRuntime(repoRoot, path.join(outputDir, 'nodejs'));
              return true;
            },
          },
        },
      }),
    });
  }
}
