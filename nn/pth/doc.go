// Package pth reads PyTorch state_dicts from the files torch.save writes
// (.pth, .pt), without running pickle.
//
// Since PyTorch 1.6 torch.save writes a zip archive: <name>/data.pkl, a
// pickle (protocol 2) of the saved object whose tensors refer to their
// storages by persistent id, <name>/data/<key> holding each storage's
// raw bytes, and <name>/version and <name>/byteorder. Read runs data.pkl
// through a restricted unpickler that builds data only: dicts and
// collections.OrderedDict, lists, tuples, ints, floats, strings, bytes,
// bools and None, tensors through torch._utils._rebuild_tensor_v2 and
// _rebuild_parameter, and storages of the Float, Half, BFloat16, Double,
// Long, Int, Short, Char, Byte and Bool types. Any other global (say
// os.system in a hostile __reduce__) and any opcode that would construct
// an object (INST, OBJ, NEWOBJ, EXT*) is an error naming it, so a file
// can make Read fail but never run anything.
//
// The state_dict is the saved object itself when it is a dict of
// tensors, or one nested under "state_dict", "model" (and a few other
// usual keys) in a training checkpoint. Views are gathered into
// contiguous tensors: storage offsets and any strides are read, storages
// shared by several tensors are read once, and each view is checked to
// lie inside its storage. Memory is bounded by the file: entries must be
// stored uncompressed (as torch.save writes them) and their sizes agree
// with the storages, a view may hold no more elements than its storage,
// and all views together at most four times the file's bytes.
//
// The tensors come back as safetensors.Tensor values (float32, or int64
// for integer buffers such as BatchNorm's num_batches_tracked), the form
// nn.LoadState loads into a model by name.
package pth
