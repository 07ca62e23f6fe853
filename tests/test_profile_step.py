"""benchmarks/profile_step.py --trace: attributing compiled operations to modules and kinds."""

import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HLO = '''
  %ynn_fusion.5 = f32[32,3,3,32]{3,2,1,0} fusion(%a, %b), kind=kCustom, calls=%f.5, metadata={op_name="jit(step)/transpose(jvp(MultiTaskAUNet.features))/MultiTaskAUNet._encode/feature_encoder_s/front/block0/ConvBNPReLU_1/Conv_0/conv_general_dilated" stack_frame_id=978}
  %ynn_fusion.6 = f32[8,44,44,64]{3,2,1,0} fusion(%a, %b), kind=kCustom, calls=%f.6, metadata={op_name="jit(step)/transpose(jvp(MultiTaskAUNet.features))/feature_generator/layer1/Conv_0/conv_general_dilated"}
  %ynn_fusion.7 = f32[8,44,44,64]{3,2,1,0} fusion(%a, %b), kind=kCustom, calls=%f.7, metadata={op_name="jit(step)/jvp(MultiTaskAUNet.features)/au_detector/head3/layer0/Conv_0/conv_general_dilated"}
  %transpose_copy_fusion.1 = f32[32,176,176,8]{3,2,1,0} fusion(%c), kind=kLoop, calls=%f.8
  %convert_fusion.2 = f32[8,44,44,64]{3,2,1,0} fusion(%c), kind=kLoop, calls=%f.9, metadata={op_name="jit(step)/jvp(MultiTaskAUNet.features)/background_generator/layer0/InstanceNorm_0/sub"}
'''


@pytest.fixture(scope='module')
def profile_step():
  spec = importlib.util.spec_from_file_location(
      'profile_step', os.path.join(REPO, 'benchmarks', 'profile_step.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_operations_are_attributed_to_modules_and_kinds(profile_step):
  info = profile_step.hlo_instructions(HLO)
  kinds = {name: profile_step.classify(name, *info[name], batch=8) for name in info}
  assert kinds == {
      'ynn_fusion.5': ('feature_encoder_s', 'conv backward (kernel)'),
      'ynn_fusion.6': ('feature_generator', 'conv backward (input)'),
      'ynn_fusion.7': ('au_detector', 'conv forward'),
      'transpose_copy_fusion.1': ('losses, optimiser, other', 'layout copies'),
      'convert_fusion.2': ('background_generator', 'elementwise / reduction'),
  }
